//! A support conversation is a conversation of history handover (SPEC.md §20.8.1): its id is
//! the conversation id, its current members the visitor and the operators of its current
//! assignment roster, none once it is closed.

use crate::history::HistoryMembers;
use crate::keys::IdentityKey;

use super::SupportConversation;

impl HistoryMembers for SupportConversation {
    fn conversation_id(&self) -> [u8; 32] {
        *self.id().as_bytes()
    }

    fn own_identity(&self) -> &IdentityKey {
        self.group().own_identity()
    }

    fn is_current_member(&self, who: &IdentityKey) -> bool {
        let roster = self.roster();
        let listed =
            !roster.is_closed() && (roster.visitor() == who || roster.operator(who).is_some());
        if who == self.group().own_identity() {
            listed && self.group().is_member()
        } else {
            listed
        }
    }
}
