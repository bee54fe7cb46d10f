//! Names met while reading many rows (a shop's categories), each kept once and known by
//! a small index: a row then carries (and compares) a number, not a string.

use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct Interner {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Interner {
    /// The index of `name`, given one on its first sight (0, 1, 2… in order of sight).
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    /// The name of index `id` (one [`Interner::id`] gave).
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_known_by_the_index_of_its_first_sight() {
        let mut n = Interner::default();
        assert_eq!((n.id("奶粉"), n.id("clothes"), n.id("奶粉")), (0, 1, 0));
        assert_eq!((n.name(0), n.name(1), n.len()), ("奶粉", "clothes", 2));
    }
}
