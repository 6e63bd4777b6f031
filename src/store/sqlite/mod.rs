//! What only SQLite needs: one writer at a time, in arrival order
//! (`write_queue`), a checkpointer that keeps the WAL from growing
//! (`checkpoint`), and an online copy for `gatehouse backup` (`backup`).

pub mod backup;
pub mod checkpoint;
pub mod write_queue;
