//! A bounds-checked reader for the FlatBuffers wire format, just enough for TFLite models.
//!
//! Why by hand: the official `flatbuffers` crate reads through generated code (we have no
//! `flatc`) and trusts offsets unless a verifier for every table is written. A TFLite file
//! is a few tables, vectors and scalars; every read here checks its bounds and turns a bad
//! offset into an error naming where it was, so a corrupt model can never panic the app.
//!
//! Layout reminder: a table starts with an `i32` back-offset to its vtable; the vtable holds
//! `u16` sizes then one `u16` offset per field (0 = absent, so the default applies). Offsets to
//! tables, vectors and strings are `u32`s relative to where they are stored. A vector is a
//! `u32` length followed by its elements.

use super::TfliteError;

type Result<T> = std::result::Result<T, TfliteError>;

fn malformed(msg: String) -> TfliteError {
    TfliteError::Malformed(msg)
}

/// The whole file; every table and vector borrows from it.
#[derive(Clone, Copy)]
pub struct Buf<'a> {
    bytes: &'a [u8],
}

impl<'a> Buf<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    fn slice(&self, pos: usize, len: usize, what: &str) -> Result<&'a [u8]> {
        pos.checked_add(len)
            .and_then(|end| self.bytes.get(pos..end))
            .ok_or_else(|| {
                malformed(format!(
                    "{what}: {len} bytes at offset {pos} run past the end of the file ({} bytes)",
                    self.bytes.len()
                ))
            })
    }

    fn u16_at(&self, pos: usize, what: &str) -> Result<u16> {
        let b = self.slice(pos, 2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32_at(&self, pos: usize, what: &str) -> Result<u32> {
        let b = self.slice(pos, 4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Follows the `u32` forward offset stored at `pos`.
    fn follow(&self, pos: usize, what: &str) -> Result<usize> {
        let rel = self.u32_at(pos, what)? as usize;
        pos.checked_add(rel)
            .filter(|&p| p < self.bytes.len())
            .ok_or_else(|| malformed(format!("{what}: offset {rel} at {pos} leaves the file")))
    }

    /// The root table, checking the 4-byte file identifier (`TFL3` for TFLite).
    pub fn root(&self, identifier: &[u8; 4]) -> Result<Table<'a>> {
        let id = self.slice(4, 4, "file identifier")?;
        if id != identifier {
            return Err(malformed(format!(
                "file identifier is {:?}, expected {:?} (not a TFLite model?)",
                String::from_utf8_lossy(id),
                String::from_utf8_lossy(identifier)
            )));
        }
        Table::at(*self, self.follow(0, "root table")?, "root")
    }
}

/// One table: its position and its vtable, read lazily field by field.
#[derive(Clone, Copy)]
pub struct Table<'a> {
    buf: Buf<'a>,
    pos: usize,
    vtable: usize,
    vtable_len: usize,
}

impl<'a> Table<'a> {
    fn at(buf: Buf<'a>, pos: usize, what: &str) -> Result<Self> {
        let soff = buf.u32_at(pos, what)? as i32 as i64;
        let vtable = pos as i64 - soff;
        if vtable < 0 {
            return Err(malformed(format!(
                "{what}: vtable offset {soff} at {pos} is negative"
            )));
        }
        let vtable = vtable as usize;
        let vtable_len = buf.u16_at(vtable, what)? as usize;
        if vtable_len < 4 {
            return Err(malformed(format!(
                "{what}: vtable at {vtable} is {vtable_len} bytes"
            )));
        }
        buf.slice(vtable, vtable_len, what)?;
        Ok(Self {
            buf,
            pos,
            vtable,
            vtable_len,
        })
    }

    /// Where field `id` is stored, or `None` when the writer left it at its default.
    fn field(&self, id: usize, what: &str) -> Result<Option<usize>> {
        let slot = 4 + 2 * id;
        if slot + 2 > self.vtable_len {
            return Ok(None);
        }
        match self.buf.u16_at(self.vtable + slot, what)? {
            0 => Ok(None),
            off => Ok(Some(self.pos + off as usize)),
        }
    }

    pub fn u8(&self, id: usize, default: u8, what: &str) -> Result<u8> {
        match self.field(id, what)? {
            Some(p) => Ok(self.buf.slice(p, 1, what)?[0]),
            None => Ok(default),
        }
    }

    pub fn i32(&self, id: usize, default: i32, what: &str) -> Result<i32> {
        match self.field(id, what)? {
            Some(p) => Ok(self.buf.u32_at(p, what)? as i32),
            None => Ok(default),
        }
    }

    pub fn u32(&self, id: usize, default: u32, what: &str) -> Result<u32> {
        match self.field(id, what)? {
            Some(p) => self.buf.u32_at(p, what),
            None => Ok(default),
        }
    }

    pub fn u64(&self, id: usize, default: u64, what: &str) -> Result<u64> {
        match self.field(id, what)? {
            Some(p) => {
                let b = self.buf.slice(p, 8, what)?;
                Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
            }
            None => Ok(default),
        }
    }

    pub fn bool(&self, id: usize, what: &str) -> Result<bool> {
        Ok(self.u8(id, 0, what)? != 0)
    }

    pub fn table(&self, id: usize, what: &str) -> Result<Option<Table<'a>>> {
        match self.field(id, what)? {
            Some(p) => Ok(Some(Table::at(self.buf, self.buf.follow(p, what)?, what)?)),
            None => Ok(None),
        }
    }

    /// A vector field: `(position of the first element, length)`, `None` when absent.
    fn vector(&self, id: usize, elem_size: usize, what: &str) -> Result<Option<(usize, usize)>> {
        let Some(p) = self.field(id, what)? else {
            return Ok(None);
        };
        let start = self.buf.follow(p, what)?;
        let len = self.buf.u32_at(start, what)? as usize;
        let bytes = len
            .checked_mul(elem_size)
            .ok_or_else(|| malformed(format!("{what}: vector length {len} overflows")))?;
        self.buf.slice(start + 4, bytes, what)?;
        Ok(Some((start + 4, len)))
    }

    pub fn bytes(&self, id: usize, what: &str) -> Result<Option<&'a [u8]>> {
        Ok(match self.vector(id, 1, what)? {
            Some((p, len)) => Some(self.buf.slice(p, len, what)?),
            None => None,
        })
    }

    pub fn string(&self, id: usize, what: &str) -> Result<Option<String>> {
        Ok(self
            .bytes(id, what)?
            .map(|b| String::from_utf8_lossy(b).into_owned()))
    }

    /// A vector of `i32` (an empty vector when absent).
    pub fn i32s(&self, id: usize, what: &str) -> Result<Vec<i32>> {
        Ok(self
            .bytes_of(id, 4, what)?
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// A vector of `u16` (an empty vector when absent).
    pub fn u16s(&self, id: usize, what: &str) -> Result<Vec<u16>> {
        Ok(self
            .bytes_of(id, 2, what)?
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect())
    }

    fn bytes_of(&self, id: usize, elem: usize, what: &str) -> Result<&'a [u8]> {
        Ok(match self.vector(id, elem, what)? {
            Some((p, len)) => self.buf.slice(p, len * elem, what)?,
            None => &[],
        })
    }

    /// A vector of tables (an empty vector when absent).
    pub fn tables(&self, id: usize, what: &str) -> Result<Vec<Table<'a>>> {
        let Some((p, len)) = self.vector(id, 4, what)? else {
            return Ok(Vec::new());
        };
        (0..len)
            .map(|i| {
                let slot = p + 4 * i;
                Table::at(self.buf, self.buf.follow(slot, what)?, what)
            })
            .collect()
    }
}
