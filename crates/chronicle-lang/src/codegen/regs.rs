//! Typed register allocation for one function.
//!
//! Every register has one declared type for the whole function (the
//! verifier checks each instruction against it), so registers are pooled by
//! type: a register freed when its scope ends or its temporary dies goes
//! back to the pool of its type and is the first one handed out again (LIFO,
//! which keeps frames small and hot registers few). Runs of consecutive
//! registers, which calls and array literals need, are found among the free
//! registers when a run of the right types exists, else made by reusing a
//! free tail of the frame and appending the rest.
//!
//! **Invariant:** indices never exceed the 16-bit register space. Past it
//! the allocator records the overflow and hands out register 0; the code
//! generator then reports a diagnostic instead of producing a module.

use std::collections::HashMap;

use chronicle_core::format::MAX_ENTRIES;
use chronicle_core::types::Type;

/// The registers of one function under construction.
#[derive(Debug, Default)]
pub(super) struct Registers {
    /// The declared type of each register.
    types: Vec<Type>,
    /// Whether each register is currently free.
    free: Vec<bool>,
    /// Free registers per type, most recently freed last.
    pools: HashMap<Type, Vec<u16>>,
    /// More registers were needed than 16-bit indices can name.
    overflow: bool,
}

impl Registers {
    /// The number of registers so far (the frame size).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether more registers were requested than the frame can have.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// The deepest array nesting of any register's type.
    pub fn max_depth(&self) -> usize {
        self.types.iter().map(Type::depth).max().unwrap_or(0)
    }

    /// The declared type of register `r` (`int` for an index handed out
    /// after an overflow, which only occurs in code that is never emitted).
    pub fn ty(&self, r: u16) -> &Type {
        self.types.get(usize::from(r)).unwrap_or(&Type::Int)
    }

    /// The declared types, for the function's frame layout.
    pub fn into_types(self) -> Vec<Type> {
        self.types
    }

    /// A new register at the end of the frame (parameters use this so they
    /// land at `0 .. params`).
    pub fn push(&mut self, ty: &Type) -> u16 {
        if self.types.len() >= MAX_ENTRIES {
            self.overflow = true;
            return 0;
        }
        self.types.push(ty.clone());
        self.free.push(false);
        (self.types.len() - 1) as u16
    }

    /// A register of type `ty`: a free one if there is one, else a new one.
    pub fn alloc(&mut self, ty: &Type) -> u16 {
        if let Some(r) = self.pools.get_mut(ty).and_then(Vec::pop) {
            self.free[usize::from(r)] = false;
            return r;
        }
        self.push(ty)
    }

    /// Gives register `r` back to its pool. Freeing a free register is a no-op.
    pub fn free(&mut self, r: u16) {
        let i = usize::from(r);
        if i < self.free.len() && !self.free[i] {
            self.free[i] = true;
            self.pools.entry(self.types[i].clone()).or_default().push(r);
        }
    }

    /// `tys.len()` consecutive registers with these types; returns the first.
    pub fn alloc_block(&mut self, tys: &[Type]) -> u16 {
        match tys {
            [] => return 0,
            [ty] => return self.alloc(ty),
            _ => {}
        }
        let n = tys.len();
        let len = self.types.len();
        let fits = |regs: &Self, at: usize, count: usize| {
            (0..count).all(|k| regs.free[at + k] && regs.types[at + k] == tys[k])
        };
        // A run of free registers of the right types.
        if len >= n {
            if let Some(at) = (0..=len - n).find(|&at| fits(self, at, n)) {
                self.take(at..at + n);
                return at as u16;
            }
        }
        // A free tail of the frame that matches a prefix, then new registers.
        let tail = (1..n.min(len) + 1)
            .rev()
            .find(|&k| fits(self, len - k, k))
            .unwrap_or(0);
        let at = len - tail;
        self.take(at..len);
        for ty in &tys[tail..] {
            self.push(ty);
        }
        if self.overflow {
            0
        } else {
            at as u16
        }
    }

    /// Marks free registers `range` as taken.
    fn take(&mut self, range: std::ops::Range<usize>) {
        for i in range {
            self.free[i] = false;
            let r = i as u16;
            if let Some(pool) = self.pools.get_mut(&self.types[i]) {
                if let Some(pos) = pool.iter().rposition(|&x| x == r) {
                    pool.remove(pos);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_registers_are_reused_per_type() {
        let mut regs = Registers::default();
        let a = regs.alloc(&Type::Int);
        let s = regs.alloc(&Type::Str);
        regs.free(a);
        assert_eq!(
            regs.alloc(&Type::Str),
            2,
            "a str never reuses an int register"
        );
        assert_eq!(regs.alloc(&Type::Int), a);
        regs.free(s);
        regs.free(s);
        assert_eq!(regs.alloc(&Type::Str), s);
        assert_eq!(regs.len(), 3);
    }

    #[test]
    fn blocks_reuse_free_runs_and_free_tails() {
        let mut regs = Registers::default();
        let (a, b, c) = (
            regs.alloc(&Type::Int),
            regs.alloc(&Type::Int),
            regs.alloc(&Type::Str),
        );
        regs.free(a);
        regs.free(b);
        assert_eq!(regs.alloc_block(&[Type::Int, Type::Int]), a);
        regs.free(a);
        regs.free(b);
        regs.free(c);
        // [int, str] does not fit at 0 (int, int) but does at 1 (int, str).
        assert_eq!(regs.alloc_block(&[Type::Int, Type::Str]), b);
        // The tail is taken: a new block starts past it.
        assert_eq!(regs.alloc_block(&[Type::Str, Type::Bool]), 3);
        assert_eq!(regs.len(), 5);
        assert_eq!(regs.alloc(&Type::Int), a);
    }

    #[test]
    fn overflow_is_recorded_not_wrapped() {
        let mut regs = Registers::default();
        for _ in 0..MAX_ENTRIES {
            regs.alloc(&Type::Int);
        }
        assert!(!regs.overflowed());
        assert_eq!(regs.alloc(&Type::Int), 0);
        assert!(regs.overflowed());
        assert_eq!(regs.len(), MAX_ENTRIES);
    }
}
