mod names;
mod safety;
