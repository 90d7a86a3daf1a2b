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
//!
//! Why one file past 600 lines: the reader is one state machine. `Machine::step` hands each
//! opcode to a handler by group (scalars, containers, memo, calls), all of them methods on the
//! one machine's stack, memo and arena and bound by the same limits; in separate files each
//! group would reach into the same private state. The opcode table (`op`) is its own module.

use std::collections::HashMap;

/// Errors from [`load`]. Positions are byte offsets into the data given to it.
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
    /// A whitelisted call that Python would have made: `func(*args)`; `args` is a tuple.
    Call {
        func: String,
        args: Value,
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

/// Longest `module.name` accepted from STACK_GLOBAL (real ones are a few dozen bytes).
const MAX_GLOBAL_NAME: usize = 1024;

/// Reads one pickle starting at byte `start` of `data`. `allowed_calls` lists the dotted
/// global names (`"module.name"`) that `REDUCE`/`NEWOBJ` may record as calls; any other call
/// is refused. Returns the pickle and the position just after its STOP, where a following
/// pickle would start (torch's legacy format concatenates several). Error positions are
/// offsets into `data`.
pub fn load(data: &[u8], start: usize, allowed_calls: &[&str]) -> Result<(Unpickled, usize)> {
    let input = Input {
        data,
        pos: start.min(data.len()),
    };
    let mut machine = Machine {
        input,
        allowed_calls,
        objects: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    let root = machine.run()?;
    let end = machine.input.pos;
    let objects = machine.objects;
    Ok((Unpickled { objects, root }, end))
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
            op::PROTO => self.proto(at)?,
            // A length hint for buffered readers; we already hold all the data.
            op::FRAME => drop(self.input.u64()?),
            op::STOP => return Ok(Step::Stop(self.pop(at)?)),
            _ => {
                // Each group returns false for opcodes that are not its own.
                let known = self.scalar(opcode)?
                    || self.container(opcode, at)?
                    || self.memo_op(opcode, at)?
                    || self.call_op(opcode, at)?;
                if !known {
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

    /// Opcodes that push one literal value.
    fn scalar(&mut self, opcode: u8) -> Result<bool> {
        let value = match opcode {
            op::NONE => Value::None,
            op::NEWTRUE => Value::Bool(true),
            op::NEWFALSE => Value::Bool(false),
            op::BININT => Value::Int(self.input.i32()?.into()),
            op::BININT1 => Value::Int(self.input.u8()?.into()),
            op::BININT2 => Value::Int(self.input.u16()?.into()),
            op::LONG1 | op::LONG4 => {
                let len = self.length_prefix(opcode)?;
                self.long(len)?
            }
            op::BINFLOAT => Value::Float(f64::from_be_bytes(self.input.array()?)),
            op::BINUNICODE | op::SHORT_BINUNICODE | op::BINUNICODE8 => {
                let len = self.length_prefix(opcode)?;
                let at = self.input.pos;
                let bytes = self.input.sized(len)?;
                let text = std::str::from_utf8(bytes)
                    .map_err(|_| malformed(at, "string is not valid UTF-8".into()))?;
                self.alloc(Object::Str(text.to_owned()))
            }
            op::BINSTRING | op::SHORT_BINSTRING => {
                // Python 2 `str`. torch.load decodes these as UTF-8 text; keep the raw bytes
                // when that fails rather than guess an encoding.
                let len = self.length_prefix(opcode)?;
                let bytes = self.input.sized(len)?;
                match std::str::from_utf8(bytes) {
                    Ok(text) => self.alloc(Object::Str(text.to_owned())),
                    Err(_) => self.alloc(Object::Bytes(bytes.to_vec())),
                }
            }
            op::BINBYTES | op::SHORT_BINBYTES | op::BINBYTES8 | op::BYTEARRAY8 => {
                let len = self.length_prefix(opcode)?;
                let bytes = self.input.sized(len)?;
                self.alloc(Object::Bytes(bytes.to_vec()))
            }
            _ => return Ok(false),
        };
        self.stack.push(value);
        Ok(true)
    }

    /// Reads the length field of a variable-size opcode (its width depends on the opcode).
    fn length_prefix(&mut self, opcode: u8) -> Result<u64> {
        Ok(match opcode {
            op::LONG1 | op::SHORT_BINUNICODE | op::SHORT_BINSTRING | op::SHORT_BINBYTES => {
                self.input.u8()?.into()
            }
            op::BINUNICODE8 | op::BINBYTES8 | op::BYTEARRAY8 => self.input.u64()?,
            // Signed lengths: a negative one is malformed, and `sized` rejects u64::MAX.
            op::LONG4 | op::BINSTRING => u64::try_from(self.input.i32()?).unwrap_or(u64::MAX),
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
            op::MARK => self.marks.push(self.stack.len()),
            op::POP => drop(self.pop(at)?),
            op::POP_MARK => drop(self.pop_mark(at)?),
            op::DUP => {
                let top = self.peek(at)?;
                self.stack.push(top);
            }
            op::EMPTY_DICT => self.push_new(Object::Dict(Vec::new())),
            op::EMPTY_LIST => self.push_new(Object::List(Vec::new())),
            op::EMPTY_TUPLE => self.push_new(Object::Tuple(Vec::new())),
            op::TUPLE => {
                let items = self.pop_mark(at)?;
                self.push_new(Object::Tuple(items));
            }
            op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                let items = self.pop_n(usize::from(opcode - op::TUPLE1) + 1, at)?;
                self.push_new(Object::Tuple(items));
            }
            op::APPEND => {
                let item = self.pop(at)?;
                self.extend_list(vec![item], at)?;
            }
            op::APPENDS => {
                let items = self.pop_mark(at)?;
                self.extend_list(items, at)?;
            }
            op::SETITEM => {
                let pair = self.pop_n(2, at)?;
                self.extend_dict(pair, at)?;
            }
            op::SETITEMS => {
                let items = self.pop_mark(at)?;
                self.extend_dict(items, at)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Memo opcodes: the pickler's back-references to values it has already written.
    fn memo_op(&mut self, opcode: u8, at: usize) -> Result<bool> {
        match opcode {
            op::BINPUT | op::LONG_BINPUT | op::MEMOIZE => {
                let index = match opcode {
                    op::BINPUT => self.input.u8()?.into(),
                    op::LONG_BINPUT => self.input.u32()?,
                    _ => u32::try_from(self.memo.len())
                        .map_err(|_| malformed(at, "memo is full".into()))?,
                };
                let top = self.peek(at)?;
                self.memo.insert(index, top);
            }
            op::BINGET | op::LONG_BINGET => {
                let index = match opcode {
                    op::BINGET => self.input.u8()?.into(),
                    _ => self.input.u32()?,
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
            op::GLOBAL => {
                // "module\nname\n"
                let module = self.input.line()?;
                let name = self.input.line()?;
                self.push_new(Object::Global(format!("{module}.{name}")));
            }
            op::STACK_GLOBAL => {
                let parts = self.pop_n(2, at)?;
                let name = self.dotted_name(&parts, at)?;
                self.push_new(Object::Global(name));
            }
            op::REDUCE | op::NEWOBJ => {
                // REDUCE: callable(*args); NEWOBJ: cls.__new__(cls, *args). Same for us.
                let args = self.pop(at)?;
                let callable = self.pop(at)?;
                let result = self.call(callable, args, at)?;
                self.stack.push(result);
            }
            op::NEWOBJ_EX => {
                // Like NEWOBJ plus keyword arguments, which we only accept empty.
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
            op::BUILD => self.build(at)?,
            op::BINPERSID => {
                let pid = self.pop(at)?;
                self.push_new(Object::PersistentId(pid));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The name STACK_GLOBAL builds from two strings. Length-capped: the strings may be
    /// memoised, and rebuilding a huge name over and over must not multiply memory.
    fn dotted_name(&self, parts: &[Value], at: usize) -> Result<String> {
        let [module, name] = parts else {
            return Err(malformed(at, "STACK_GLOBAL needs two values".into()));
        };
        match (self.object_at(*module), self.object_at(*name)) {
            (Some(Object::Str(module)), Some(Object::Str(name)))
                if module.len() + name.len() <= MAX_GLOBAL_NAME =>
            {
                Ok(format!("{module}.{name}"))
            }
            _ => Err(malformed(at, "STACK_GLOBAL needs two short strings".into())),
        }
    }

    /// REDUCE/NEWOBJ. Nothing is ever called: `OrderedDict()` becomes an empty dict (its
    /// items follow through SETITEMS, whatever the protocol), a whitelisted global becomes
    /// an [`Object::Call`] record, and anything else is refused.
    fn call(&mut self, callable: Value, args: Value, at: usize) -> Result<Value> {
        let Some(Object::Global(func)) = self.object_at(callable) else {
            return Err(malformed(at, "call target is not a global name".into()));
        };
        let Some(Object::Tuple(arg_items)) = self.object_at(args) else {
            return Err(malformed(
                at,
                format!("arguments of '{func}' are not a tuple"),
            ));
        };
        if func == "collections.OrderedDict" {
            if !arg_items.is_empty() {
                return Err(malformed(at, "OrderedDict called with arguments".into()));
            }
            return Ok(self.alloc(Object::Dict(Vec::new())));
        }
        if !self.allowed_calls.contains(&func.as_str()) {
            return Err(PickleError::UntrustedGlobal { name: func.clone() });
        }
        // Refer to the argument tuple rather than copy it: one memoised tuple may be passed
        // to many calls.
        let func = func.clone();
        Ok(self.alloc(Object::Call { func, args }))
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
        if !items.len().is_multiple_of(2) {
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

/// The opcodes this reader understands (names as in CPython's `pickletools`).
mod op {
    pub const PROTO: u8 = 0x80;
    pub const FRAME: u8 = 0x95;
    pub const STOP: u8 = b'.';

    pub const NONE: u8 = b'N';
    pub const NEWTRUE: u8 = 0x88;
    pub const NEWFALSE: u8 = 0x89;
    pub const BININT: u8 = b'J';
    pub const BININT1: u8 = b'K';
    pub const BININT2: u8 = b'M';
    pub const LONG1: u8 = 0x8a;
    pub const LONG4: u8 = 0x8b;
    pub const BINFLOAT: u8 = b'G';
    pub const BINUNICODE: u8 = b'X';
    pub const SHORT_BINUNICODE: u8 = 0x8c;
    pub const BINUNICODE8: u8 = 0x8d;
    pub const BINSTRING: u8 = b'T';
    pub const SHORT_BINSTRING: u8 = b'U';
    pub const BINBYTES: u8 = b'B';
    pub const SHORT_BINBYTES: u8 = b'C';
    pub const BINBYTES8: u8 = 0x8e;
    pub const BYTEARRAY8: u8 = 0x96;

    pub const MARK: u8 = b'(';
    pub const POP: u8 = b'0';
    pub const POP_MARK: u8 = b'1';
    pub const DUP: u8 = b'2';
    pub const EMPTY_DICT: u8 = b'}';
    pub const EMPTY_LIST: u8 = b']';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const TUPLE: u8 = b't';
    pub const TUPLE1: u8 = 0x85;
    pub const TUPLE2: u8 = 0x86;
    pub const TUPLE3: u8 = 0x87;
    pub const APPEND: u8 = b'a';
    pub const APPENDS: u8 = b'e';
    pub const SETITEM: u8 = b's';
    pub const SETITEMS: u8 = b'u';

    pub const BINPUT: u8 = b'q';
    pub const LONG_BINPUT: u8 = b'r';
    pub const MEMOIZE: u8 = 0x94;
    pub const BINGET: u8 = b'h';
    pub const LONG_BINGET: u8 = b'j';

    pub const GLOBAL: u8 = b'c';
    pub const STACK_GLOBAL: u8 = 0x93;
    pub const REDUCE: u8 = b'R';
    pub const NEWOBJ: u8 = 0x81;
    pub const NEWOBJ_EX: u8 = 0x92;
    pub const BUILD: u8 = b'b';
    pub const BINPERSID: u8 = b'Q';
}

fn malformed(at: usize, msg: String) -> PickleError {
    PickleError::Malformed { at, msg }
}
