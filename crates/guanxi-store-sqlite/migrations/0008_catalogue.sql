-- The shop's product catalogue: what each SKU is, its category and unit cost, and title
-- keywords naming a category (the first in position order that a title contains wins).
-- Imports fill the order lines' missing category, title and cost from it.
CREATE TABLE products (
    sku TEXT PRIMARY KEY,
    title TEXT,
    category TEXT,
    unit_cost_cents INTEGER
);

CREATE TABLE category_keywords (
    position INTEGER PRIMARY KEY,
    keyword TEXT NOT NULL,
    category TEXT NOT NULL
);
