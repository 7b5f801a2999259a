//! Bit-packed integers: Exp-Golomb codes, where small numbers cost few
//! bits (0 costs one, ±1 three, ±2 to ±3 five), for snapshot corrections
//! that are nearly always tiny.
//!
//! Bits are written most significant first, and the last byte is padded
//! with zeros. An unsigned `k` is written as `n` zeros followed by the
//! `n + 1` bits of `k + 1`, where `n` is one less than the bit length of
//! `k + 1`. A signed `v` is written as the unsigned zigzag of `v`:
//! 0, -1, 1, -2, 2 ... become 0, 1, 2, 3, 4 ...

/// Writes Exp-Golomb codes into bytes.
#[derive(Debug, Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits not yet flushed, in the low `pending` bits.
    acc: u64,
    pending: u32,
}

impl BitWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    fn bits(&mut self, value: u64, count: u32) {
        // Written in pieces small enough that the accumulator never
        // holds more than 64 bits.
        let mut left = count;
        while left > 0 {
            let take = left.min(32);
            left -= take;
            let piece = (value >> left) & ((1u64 << take) - 1);
            self.acc = (self.acc << take) | piece;
            self.pending += take;
            while self.pending >= 8 {
                self.pending -= 8;
                self.bytes.push((self.acc >> self.pending) as u8);
            }
        }
    }

    /// Writes an unsigned number.
    pub fn unsigned(&mut self, k: u64) {
        let (m, len) = match k.checked_add(1) {
            Some(m) => (m, 64 - m.leading_zeros()),
            // u64::MAX + 1 has 65 bits: 64 zeros, then a one and 64 zeros.
            None => {
                self.bits(0, 64);
                self.bits(1, 1);
                self.bits(0, 64);
                return;
            }
        };
        self.bits(0, len - 1);
        self.bits(m, len);
    }

    /// Writes a signed number.
    pub fn signed(&mut self, v: i64) {
        self.unsigned(((v << 1) ^ (v >> 63)) as u64);
    }

    /// The bytes, the last one padded with zeros.
    pub fn finish(mut self) -> Vec<u8> {
        if self.pending > 0 {
            let pad = 8 - self.pending;
            self.bits(0, pad);
        }
        self.bytes
    }
}

/// The bytes ended in the middle of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bit-packed data ends in the middle of a number")]
pub struct Truncated;

/// Reads Exp-Golomb codes from bytes.
#[derive(Debug)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits.
    at: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    fn bit(&mut self) -> Result<u64, Truncated> {
        let byte = *self.bytes.get(self.at / 8).ok_or(Truncated)?;
        let bit = (byte >> (7 - self.at % 8)) & 1;
        self.at += 1;
        Ok(u64::from(bit))
    }

    /// Reads an unsigned number.
    pub fn unsigned(&mut self) -> Result<u64, Truncated> {
        let mut zeros = 0u32;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 64 {
                // No valid code has that many; only zero padding or
                // garbage does.
                return Err(Truncated);
            }
        }
        // The leading one is implied; `zeros` more bits follow it.
        let mut m: u128 = 1;
        for _ in 0..zeros {
            m = (m << 1) | u128::from(self.bit()?);
        }
        u64::try_from(m - 1).map_err(|_| Truncated)
    }

    /// Reads a signed number.
    pub fn signed(&mut self) -> Result<i64, Truncated> {
        let z = self.unsigned()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_numbers_cost_few_bits() {
        let mut w = BitWriter::new();
        // 0 -> "1", -1 -> "010", 1 -> "011", -2 -> "00100": 12 bits.
        for v in [0, -1, 1, -2] {
            w.signed(v);
        }
        assert_eq!(w.finish(), [0b1010_0110, 0b0100_0000]);
    }

    #[test]
    fn every_kind_of_number_reads_back() {
        let unsigned = [
            0,
            1,
            2,
            3,
            7,
            8,
            255,
            1 << 31,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ];
        let signed = [
            0,
            1,
            -1,
            2,
            -2,
            63,
            -64,
            65_535,
            -65_536,
            i64::MAX,
            i64::MIN,
        ];
        let mut w = BitWriter::new();
        for &k in &unsigned {
            w.unsigned(k);
        }
        for &v in &signed {
            w.signed(v);
        }
        let bytes = w.finish();
        let mut r = BitReader::new(&bytes);
        for &k in &unsigned {
            assert_eq!(r.unsigned(), Ok(k));
        }
        for &v in &signed {
            assert_eq!(r.signed(), Ok(v));
        }
    }

    #[test]
    fn a_cut_code_is_an_error_not_a_number() {
        let mut w = BitWriter::new();
        w.unsigned(1_000_000);
        let bytes = w.finish();
        assert_eq!(BitReader::new(&bytes[..2]).unsigned(), Err(Truncated));
        assert_eq!(
            BitReader::new(&[0, 0, 0, 0, 0, 0, 0, 0, 0]).unsigned(),
            Err(Truncated)
        );
    }
}
