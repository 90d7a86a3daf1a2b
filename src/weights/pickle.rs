//! A pickle reader that never executes anything.
//!
//! Python's `pickle` turns `GLOBAL` + `REDUCE` into "import this and call it", which is why
//! loading an untrusted `.pth` with `torch.load` can run arbitrary code. This interpreter
//! instead treats every global as a plain *name*, and a call (`REDUCE`/`NEWOBJ`) as a *record*
//! of "name applied to args" — and only for names the caller allows. The one exception is
//! `collections.OrderedDict`, which is materialised as an ordinary (ordered) dict because
//! every state_dict is one.
//!
//! Containers live in an arena (`Vec<Object>`) and values refer to them by index. That keeps
//! Python's reference semantics (a memoised dict that is filled later is the same dict when
//! fetched again), makes cyclic pickles harmless, and avoids deep recursive drops of nested
//! data. Every opcode creates at most one object and reads its payload from the input, so
//! memory stays proportional to the input size whatever the pickle claims.

use std::collections::HashMap;

/// Errors from [`load`]. Positions are byte offsets into the pickle.
#[derive(Debug, thiserror::Error)]
pub enum PickleError {
    #[error("pickle data ends early (at byte {at}, {needed} byte(s) missing)")]
    Truncated { at: usize, needed: usize },
    #[error("unsupported pickle opcode 0x{opcode:02x} ({shown:?}) at byte {at}")]
    UnsupportedOpcode { opcode: u8, shown: char, at: usize },
    #[error(
        "refusing to call untrusted global '{name}' in checkpoint \
         (only tensor-rebuild globals are allowed)"
    )]
    UntrustedGlobal { name: String },
    #[error("malformed pickle at byte {at}: {msg}")]
    Malformed { at: usize, msg: String },
}

type Result<T> = std::result::Result<T, PickleError>;

/// Index of an [`Object`] in [`Unpickled`]'s arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjId(usize);

/// A pickle value: scalars inline, everything else by reference to the arena.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    /// Ints up to 128 bits (enough for torch's 80-bit legacy magic number).
    Int(i128),
    Float(f64),
    Obj(ObjId),
}

/// Heap objects produced by the interpreter.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Str(String),
    Bytes(Vec<u8>),
    /// An integer too wide for `i128`, as little-endian two's complement bytes.
    BigInt(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    /// A dict or `collections.OrderedDict`, in insertion order (later duplicates appended).
    Dict(Vec<(Value, Value)>),
    /// A `GLOBAL`/`STACK_GLOBAL` reference: just a dotted name, never imported.
    Global(String),
    /// A whitelisted call that Python would have made: `func(*args)`.
    Call {
        func: String,
        args: Vec<Value>,
    },
    /// A `BINPERSID` reference; what it means is up to the caller (torch: a storage).
    PersistentId(Value),
}

impl Object {
    /// Python-ish type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Object::Str(_) => "str",
            Object::Bytes(_) => "bytes",
            Object::BigInt(_) => "int",
            Object::Tuple(_) => "tuple",
            Object::List(_) => "list",
            Object::Dict(_) => "dict",
            Object::Global(_) => "global name",
            Object::Call { .. } => "call result",
            Object::PersistentId(_) => "persistent id",
        }
    }
}

/// The result of reading one pickle: its arena and its top value.
#[derive(Debug, Clone)]
pub struct Unpickled {
    objects: Vec<Object>,
    root: Value,
}

impl Unpickled {
    pub fn root(&self) -> Value {
        self.root
    }

    /// The object `value` refers to, or `None` for inline scalars.
    pub fn object(&self, value: Value) -> Option<&Object> {
        match value {
            Value::Obj(ObjId(i)) => self.objects.get(i),
            _ => None,
        }
    }

    /// All objects, in creation order.
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.objects.iter()
    }

    pub fn as_str(&self, value: Value) -> Option<&str> {
        match self.object(value)? {
            Object::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a tuple or a list.
    pub fn as_seq(&self, value: Value) -> Option<&[Value]> {
        match self.object(value)? {
            Object::Tuple(items) | Object::List(items) => Some(items),
            _ => None,
        }
    }

    /// Python-ish type name of any value, for error messages.
    pub fn type_name(&self, value: Value) -> &'static str {
        match value {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Obj(_) => self.object(value).map_or("?", Object::type_name),
        }
    }
}

/// Reads one pickle from the start of `data`. `allowed_calls` lists the dotted global names
/// (`"module.name"`) that `REDUCE`/`NEWOBJ` may record as calls; any other call is refused.
/// Returns the pickle and the number of bytes it occupied (pickles can be concatenated).
pub fn load(data: &[u8], allowed_calls: &[&str]) -> Result<(Unpickled, usize)> {
    let mut machine = Machine {
        input: Input { data, pos: 0 },
        allowed_calls,
        objects: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    let root = machine.run()?;
    let consumed = machine.input.pos;
    Ok((
        Unpickled {
            objects: machine.objects,
            root,
        },
        consumed,
    ))
}

/// Bounds-checked cursor over the pickle bytes.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len());
        let Some(end) = end else {
            return Err(PickleError::Truncated {
                at: self.pos,
                needed: n.saturating_sub(self.data.len() - self.pos),
            });
        };
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A payload whose length was read from the data: `take` checks it against what is left,
    /// so a hostile length can never cause a large allocation.
    fn sized(&mut self, len: u64) -> Result<&'a [u8]> {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.take(len)
    }

    /// A text line ending in `\n` (for `GLOBAL`), without the newline.
    fn line(&mut self) -> Result<&'a str> {
        let rest = &self.data[self.pos..];
        let Some(len) = rest.iter().position(|&b| b == b'\n') else {
            return Err(PickleError::Truncated {
                at: self.pos,
                needed: 1,
            });
        };
        let at = self.pos;
        let line = self.take(len + 1)?;
        std::str::from_utf8(&line[..len]).map_err(|_| PickleError::Malformed {
            at,
            msg: "GLOBAL name is not UTF-8".into(),
        })
    }
}

/// The pickle virtual machine state.
struct Machine<'a> {
    input: Input<'a>,
    allowed_calls: &'a [&'a str],
    objects: Vec<Object>,
    stack: Vec<Value>,
    /// Stack heights saved by MARK.
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
}

/// What executing one opcode asks of the main loop.
enum Step {
    Continue,
    Stop(Value),
}

impl Machine<'_> {
    fn run(&mut self) -> Result<Value> {
        loop {
            let at = self.input.pos;
            let opcode = self.input.u8()?;
            if let Step::Stop(root) = self.step(opcode, at)? {
                return Ok(root);
            }
        }
    }

    fn step(&mut self, opcode: u8, at: usize) -> Result<Step> {
        match opcode {
            0x80 => self.proto(at)?, // PROTO
            0x95 => {
                // FRAME: a length hint for buffered readers; we already have all the data.
                self.input.u64()?;
            }
            b'.' => return Ok(Step::Stop(self.pop(at)?)), // STOP
            _ => {
                if !(self.scalar(opcode)?
                    || self.container(opcode, at)?
                    || self.memo_op(opcode, at)?
                    || self.call_op(opcode, at)?)
                {
                    return Err(PickleError::UnsupportedOpcode {
                        opcode,
                        shown: char::from(opcode),
                        at,
                    });
                }
            }
        }
        Ok(Step::Continue)
    }

    fn proto(&mut self, at: usize) -> Result<()> {
        let version = self.input.u8()?;
        if version > 5 {
            return Err(malformed(
                at,
                format!("unsupported pickle protocol {version}"),
            ));
        }
        Ok(())
    }

    /// Opcodes that push one literal value. Returns false if `opcode` is not one of them.
    fn scalar(&mut self, opcode: u8) -> Result<bool> {
        let value = match opcode {
            b'N' => Value::None,
            0x88 => Value::Bool(true),                    // NEWTRUE
            0x89 => Value::Bool(false),                   // NEWFALSE
            b'J' => Value::Int(self.input.i32()?.into()), // BININT
            b'K' => Value::Int(self.input.u8()?.into()),  // BININT1
            b'M' => Value::Int(self.input.u16()?.into()), // BININT2
            0x8a => {
                // LONG1
                let len = self.input.u8()?;
                self.long(len.into())?
            }
            0x8b => {
                // LONG4: a negative length is malformed; `sized` rejects it as too long.
                let len = self.input.i32()?;
                self.long(u64::try_from(len).unwrap_or(u64::MAX))?
            }
            b'G' => Value::Float(f64::from_be_bytes(self.input.array()?)), // BINFLOAT
            b'X' | 0x8c | 0x8d => {
                // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                let len = self.length_prefix(opcode)?;
                let at = self.input.pos;
                let bytes = self.input.sized(len)?;
                let text = std::str::from_utf8(bytes)
                    .map_err(|_| malformed(at, "string is not valid UTF-8".into()))?;
                self.alloc(Object::Str(text.to_owned()))
            }
            b'T' | b'U' => {
                // BINSTRING, SHORT_BINSTRING: Python 2 `str`. torch.load decodes these as
                // UTF-8 text; keep raw bytes when that fails rather than guessing an encoding.
                let len = self.length_prefix(opcode)?;
                let bytes = self.input.sized(len)?;
                match std::str::from_utf8(bytes) {
                    Ok(text) => self.alloc(Object::Str(text.to_owned())),
                    Err(_) => self.alloc(Object::Bytes(bytes.to_vec())),
                }
            }
            b'B' | b'C' | 0x8e | 0x96 => {
                // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
                let len = self.length_prefix(opcode)?;
                let bytes = self.input.sized(len)?;
                self.alloc(Object::Bytes(bytes.to_vec()))
            }
            _ => return Ok(false),
        };
        self.stack.push(value);
        Ok(true)
    }

    /// Reads the length field of a string/bytes opcode (its width depends on the opcode).
    fn length_prefix(&mut self, opcode: u8) -> Result<u64> {
        Ok(match opcode {
            0x8c | b'U' | b'C' => self.input.u8()?.into(),
            0x8d | 0x8e | 0x96 => self.input.u64()?,
            // BINSTRING's length is signed; negative means malformed (rejected as too long).
            b'T' => u64::try_from(self.input.i32()?).unwrap_or(u64::MAX),
            _ => self.input.u32()?.into(),
        })
    }

    /// A little-endian two's complement integer of `len` bytes (LONG1/LONG4).
    fn long(&mut self, len: u64) -> Result<Value> {
        let bytes = self.input.sized(len)?;
        if bytes.len() > 16 {
            return Ok(self.alloc(Object::BigInt(bytes.to_vec())));
        }
        let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
        let mut wide = [if negative { 0xff } else { 0 }; 16];
        wide[..bytes.len()].copy_from_slice(bytes);
        Ok(Value::Int(i128::from_le_bytes(wide)))
    }

    /// Opcodes that build or fill containers, and plain stack manipulation.
    fn container(&mut self, opcode: u8, at: usize) -> Result<bool> {
        match opcode {
            b'(' => self.marks.push(self.stack.len()), // MARK
            b'0' => {
                self.pop(at)?; // POP
            }
            b'1' => {
                self.pop_mark(at)?; // POP_MARK
            }
            b'2' => {
                let top = self.peek(at)?; // DUP
                self.stack.push(top);
            }
            b'}' => self.push_new(Object::Dict(Vec::new())), // EMPTY_DICT
            b']' => self.push_new(Object::List(Vec::new())), // EMPTY_LIST
            b')' => self.push_new(Object::Tuple(Vec::new())), // EMPTY_TUPLE
            b't' => {
                let items = self.pop_mark(at)?; // TUPLE
                self.push_new(Object::Tuple(items));
            }
            0x85..=0x87 => {
                // TUPLE1, TUPLE2, TUPLE3
                let items = self.pop_n(usize::from(opcode - 0x84), at)?;
                self.push_new(Object::Tuple(items));
            }
            b'a' => {
                let item = self.pop(at)?; // APPEND
                self.extend_list(vec![item], at)?;
            }
            b'e' => {
                let items = self.pop_mark(at)?; // APPENDS
                self.extend_list(items, at)?;
            }
            b's' => {
                let pair = self.pop_n(2, at)?; // SETITEM
                self.extend_dict(pair, at)?;
            }
            b'u' => {
                let items = self.pop_mark(at)?; // SETITEMS
                self.extend_dict(items, at)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Memo opcodes: the pickler's back-references to values it has already written.
    fn memo_op(&mut self, opcode: u8, at: usize) -> Result<bool> {
        match opcode {
            b'q' | b'r' | 0x94 => {
                // BINPUT, LONG_BINPUT, MEMOIZE
                let index = match opcode {
                    b'q' => self.input.u8()?.into(),
                    b'r' => self.input.u32()?,
                    _ => u32::try_from(self.memo.len())
                        .map_err(|_| malformed(at, "memo is full".into()))?,
                };
                let top = self.peek(at)?;
                self.memo.insert(index, top);
            }
            b'h' | b'j' => {
                // BINGET, LONG_BINGET
                let index = if opcode == b'h' {
                    self.input.u8()?.into()
                } else {
                    self.input.u32()?
                };
                let value = *self
                    .memo
                    .get(&index)
                    .ok_or_else(|| malformed(at, format!("memo entry {index} is not set")))?;
                self.stack.push(value);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Globals, calls, object state and persistent ids: the opcodes that would run code in
    /// Python. Here they only produce names and call records.
    fn call_op(&mut self, opcode: u8, at: usize) -> Result<bool> {
        match opcode {
            b'c' => {
                // GLOBAL: "module\nname\n"
                let module = self.input.line()?;
                let name = self.input.line()?;
                self.push_new(Object::Global(format!("{module}.{name}")));
            }
            0x93 => {
                // STACK_GLOBAL
                let parts = self.pop_n(2, at)?;
                let name = self.dotted_name(&parts, at)?;
                self.push_new(Object::Global(name));
            }
            b'R' | 0x81 => {
                // REDUCE: callable(*args); NEWOBJ: cls.__new__(cls, *args). Same for us.
                let args = self.pop(at)?;
                let callable = self.pop(at)?;
                let result = self.call(callable, args, at)?;
                self.stack.push(result);
            }
            0x92 => {
                // NEWOBJ_EX: like NEWOBJ plus keyword arguments, which we only accept empty.
                let kwargs = self.pop(at)?;
                if !matches!(self.object_at(kwargs), Some(Object::Dict(items)) if items.is_empty())
                {
                    return Err(malformed(at, "NEWOBJ_EX with keyword arguments".into()));
                }
                let args = self.pop(at)?;
                let cls = self.pop(at)?;
                let result = self.call(cls, args, at)?;
                self.stack.push(result);
            }
            b'b' => self.build(at)?,
            b'Q' => {
                let pid = self.pop(at)?; // BINPERSID
                self.push_new(Object::PersistentId(pid));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn dotted_name(&self, parts: &[Value], at: usize) -> Result<String> {
        match parts {
            [module, name] => match (self.object_at(*module), self.object_at(*name)) {
                (Some(Object::Str(module)), Some(Object::Str(name))) => {
                    Ok(format!("{module}.{name}"))
                }
                _ => Err(malformed(at, "STACK_GLOBAL needs two strings".into())),
            },
            _ => Err(malformed(at, "STACK_GLOBAL needs two strings".into())),
        }
    }

    /// REDUCE/NEWOBJ. Nothing is ever called: an OrderedDict becomes a dict, a whitelisted
    /// global becomes a [`Object::Call`] record, and anything else is refused.
    fn call(&mut self, callable: Value, args: Value, at: usize) -> Result<Value> {
        let Some(Object::Global(func)) = self.object_at(callable) else {
            return Err(malformed(at, "call target is not a global name".into()));
        };
        let func = func.clone();
        let Some(Object::Tuple(args)) = self.object_at(args) else {
            return Err(malformed(
                at,
                format!("arguments of '{func}' are not a tuple"),
            ));
        };
        let args = args.clone();
        if func == "collections.OrderedDict" {
            let items = self.ordered_dict_items(&args, at)?;
            return Ok(self.alloc(Object::Dict(items)));
        }
        if !self.allowed_calls.contains(&func.as_str()) {
            return Err(PickleError::UntrustedGlobal { name: func });
        }
        Ok(self.alloc(Object::Call { func, args }))
    }

    /// `OrderedDict()` (what pickle protocol 2+ writes, items follow via SETITEMS) or
    /// `OrderedDict([[key, value], ...])` (what older protocols write).
    fn ordered_dict_items(&self, args: &[Value], at: usize) -> Result<Vec<(Value, Value)>> {
        let bad = || malformed(at, "unexpected arguments to collections.OrderedDict".into());
        match args {
            [] => Ok(Vec::new()),
            [pairs] => {
                let Some(Object::List(pairs) | Object::Tuple(pairs)) = self.object_at(*pairs)
                else {
                    return Err(bad());
                };
                pairs
                    .iter()
                    .map(|pair| match self.object_at(*pair) {
                        Some(Object::List(kv) | Object::Tuple(kv)) if kv.len() == 2 => {
                            Ok((kv[0], kv[1]))
                        }
                        _ => Err(bad()),
                    })
                    .collect()
            }
            _ => Err(bad()),
        }
    }

    /// BUILD (`obj.__setstate__(state)`). torch sets `_metadata` on the state_dict this way;
    /// that is per-module version info we do not need, so on dicts the state is dropped.
    /// On anything else BUILD would need a class's own `__setstate__`, so it is refused.
    fn build(&mut self, at: usize) -> Result<()> {
        let _state = self.pop(at)?;
        let target = self.peek(at)?;
        match self.object_at(target) {
            Some(Object::Dict(_)) => Ok(()),
            _ => Err(malformed(
                at,
                format!(
                    "BUILD on a {}: only dict state is supported",
                    self.type_of(target)
                ),
            )),
        }
    }

    fn extend_list(&mut self, items: Vec<Value>, at: usize) -> Result<()> {
        let target = self.peek(at)?;
        let kind = self.type_of(target);
        match self.object_at_mut(target) {
            Some(Object::List(list)) => {
                list.extend(items);
                Ok(())
            }
            _ => Err(malformed(at, format!("APPEND to a {kind}, not a list"))),
        }
    }

    fn extend_dict(&mut self, items: Vec<Value>, at: usize) -> Result<()> {
        if items.len() % 2 != 0 {
            return Err(malformed(
                at,
                "SETITEMS with an odd number of values".into(),
            ));
        }
        let target = self.peek(at)?;
        let kind = self.type_of(target);
        match self.object_at_mut(target) {
            Some(Object::Dict(dict)) => {
                dict.extend(items.chunks_exact(2).map(|kv| (kv[0], kv[1])));
                Ok(())
            }
            _ => Err(malformed(at, format!("SETITEM on a {kind}, not a dict"))),
        }
    }

    fn alloc(&mut self, object: Object) -> Value {
        self.objects.push(object);
        Value::Obj(ObjId(self.objects.len() - 1))
    }

    fn push_new(&mut self, object: Object) {
        let value = self.alloc(object);
        self.stack.push(value);
    }

    fn object_at(&self, value: Value) -> Option<&Object> {
        match value {
            Value::Obj(ObjId(i)) => self.objects.get(i),
            _ => None,
        }
    }

    fn object_at_mut(&mut self, value: Value) -> Option<&mut Object> {
        match value {
            Value::Obj(ObjId(i)) => self.objects.get_mut(i),
            _ => None,
        }
    }

    fn type_of(&self, value: Value) -> &'static str {
        match self.object_at(value) {
            Some(object) => object.type_name(),
            None => "scalar",
        }
    }

    fn pop(&mut self, at: usize) -> Result<Value> {
        self.stack
            .pop()
            .ok_or_else(|| malformed(at, "stack underflow".into()))
    }

    fn peek(&self, at: usize) -> Result<Value> {
        self.stack
            .last()
            .copied()
            .ok_or_else(|| malformed(at, "stack underflow".into()))
    }

    fn pop_n(&mut self, n: usize, at: usize) -> Result<Vec<Value>> {
        let start = self
            .stack
            .len()
            .checked_sub(n)
            .ok_or_else(|| malformed(at, "stack underflow".into()))?;
        Ok(self.stack.split_off(start))
    }

    /// Pops everything above the most recent MARK (and the mark itself).
    fn pop_mark(&mut self, at: usize) -> Result<Vec<Value>> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| malformed(at, "no MARK on the stack".into()))?;
        if mark > self.stack.len() {
            // Values below the mark were popped since (e.g. MARK then POP).
            return Err(malformed(
                at,
                "MARK points past the top of the stack".into(),
            ));
        }
        Ok(self.stack.split_off(mark))
    }
}

fn malformed(at: usize, msg: String) -> PickleError {
    PickleError::Malformed { at, msg }
}
