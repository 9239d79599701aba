//! Newtypes for the symmetric secrets of the protocol.
//!
//! Each one zeroizes on drop, compares in constant time and never prints its bytes.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

macro_rules! secret_bytes {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub(crate) struct $name([u8; $len]);

        impl $name {
            pub(crate) fn from_bytes(bytes: [u8; $len]) -> Self {
                $name(bytes)
            }

            pub(crate) fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.ct_eq(&other.0).into()
            }
        }

        impl Eq for $name {}

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
}

secret_bytes!(
    /// The root key of the Double Ratchet: mixed with every DH ratchet output.
    RootKey, 32
);
secret_bytes!(
    /// A sending or receiving chain key: stepped once per message.
    ChainKey, 32
);
secret_bytes!(
    /// The key for exactly one message body.
    MessageKey, 32
);
secret_bytes!(
    /// A header-encryption key: one per chain.
    HeaderKey, 32
);
secret_bytes!(
    /// The output of a Diffie-Hellman or KEM operation, or a KDF input made from them.
    SharedSecret, 32
);
secret_bytes!(
    /// The session-constant key of the session tag: lets a receiver recognise its session.
    SessionTagKey, 32
);
