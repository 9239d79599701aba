//! The plain `serde` form of versioned state: `(version, snapshot)`, for apps that encrypt
//! state themselves.

use core::fmt;
use core::marker::PhantomData;

use serde::Deserializer;
use serde::de::{DeserializeOwned, Error as _, SeqAccess, Visitor};

use super::STATE_FORMAT_VERSION;

/// Reads `(version, snapshot)`, decoding the snapshot with the struct of its version
/// (`V1` for version 1, `V2` for version 2, `V3` for version 3, `V4` for the current one, 4)
/// and migrating it to `V4`.
struct Versioned<V1, V2, V3, V4>(PhantomData<(V1, V2, V3, V4)>);

impl<'de, V1, V2, V3, V4> Visitor<'de> for Versioned<V1, V2, V3, V4>
where
    V1: DeserializeOwned + Into<V2>,
    V2: DeserializeOwned + Into<V3>,
    V3: DeserializeOwned + Into<V4>,
    V4: DeserializeOwned,
{
    type Value = V4;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a hushwire state format version and snapshot")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<V4, A::Error> {
        let version: u16 = seq
            .next_element()?
            .ok_or_else(|| A::Error::invalid_length(0, &self))?;
        let snapshot = match version {
            1 => seq
                .next_element::<V1>()?
                .map(|v1| Into::<V3>::into(Into::<V2>::into(v1)).into()),
            2 => seq
                .next_element::<V2>()?
                .map(|v2| Into::<V3>::into(v2).into()),
            3 => seq.next_element::<V3>()?.map(Into::into),
            v if v == STATE_FORMAT_VERSION => seq.next_element::<V4>()?,
            _ => return Err(A::Error::custom("unknown hushwire state format version")),
        };
        snapshot.ok_or_else(|| A::Error::invalid_length(1, &self))
    }
}

/// Deserializes `(version, snapshot)` for the versions `V1` (1), `V2` (2), `V3` (3) and `V4`
/// (4, the current one). A type whose snapshot did not change between versions passes the
/// same struct twice.
pub(crate) fn versioned<'de, D: Deserializer<'de>, V1, V2, V3, V4>(
    deserializer: D,
) -> Result<V4, D::Error>
where
    V1: DeserializeOwned + Into<V2>,
    V2: DeserializeOwned + Into<V3>,
    V3: DeserializeOwned + Into<V4>,
    V4: DeserializeOwned,
{
    deserializer.deserialize_tuple(2, Versioned::<V1, V2, V3, V4>(PhantomData))
}
