//! `sqlx::migrate!` embeds `migrations/` at compile time: a new migration must rebuild
//! the crate (cargo does not know the macro reads the directory).

fn main() {
    println!("cargo::rerun-if-changed=migrations");
}
