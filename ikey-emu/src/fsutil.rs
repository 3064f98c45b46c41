//! The few file-system moves everything durable is made of: a private directory, a
//! bounded read, an atomic replace, and an advisory lock with a bounded wait. They are
//! `ped-fs`'s, shared with hsm-emu's state and the daemons' configuration files.

pub(crate) use ped_fs::{Lock, LockError, ReadError, Staged, lock, private_dir, read_regular};
