//! What only SQLite needs: one writer at a time, in arrival order
//! (`write_queue`), and a checkpointer that keeps the WAL from growing
//! (`checkpoint`).

pub mod checkpoint;
pub mod write_queue;
