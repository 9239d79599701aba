//! A cursor over untrusted bytes that never panics.

use crate::error::DecodeError;

/// Reads fixed-size fields from the front of a byte slice.
///
/// Every method checks the remaining length first and returns [`DecodeError::Truncated`]
/// instead of indexing out of bounds.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// Takes the next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated {
                needed: n - self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// Takes the next `N` bytes as a borrowed array: its length is checked once, here.
    pub(crate) fn array_ref<const N: usize>(&mut self) -> Result<&'a [u8; N], DecodeError> {
        let bytes = self.take(N)?;
        <&[u8; N]>::try_from(bytes).map_err(|_| DecodeError::Truncated { needed: N })
    }

    /// Takes the next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(u8::from_be_bytes(self.array::<1>()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array::<4>()?))
    }

    /// Reads a presence flag: `0` is absent, `1` is present, anything else is an error.
    pub(crate) fn flag(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::InvalidField { field }),
        }
    }

    /// How many bytes are left.
    pub(crate) fn rest_len(&self) -> usize {
        self.rest.len()
    }

    /// Takes everything that is left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless every byte was consumed.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                count: self.rest.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_past_end_is_truncated_not_panic() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.take(5), Err(DecodeError::Truncated { needed: 2 }));
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u32(), Err(DecodeError::Truncated { needed: 2 }));
    }

    #[test]
    fn finish_reports_trailing_bytes() {
        let mut r = Reader::new(&[1, 2, 3]);
        r.u8().unwrap();
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes { count: 2 }));
    }

    #[test]
    fn flag_accepts_only_zero_and_one() {
        assert_eq!(Reader::new(&[0]).flag("f"), Ok(false));
        assert_eq!(Reader::new(&[1]).flag("f"), Ok(true));
        assert_eq!(
            Reader::new(&[2]).flag("f"),
            Err(DecodeError::InvalidField { field: "f" })
        );
    }
}
