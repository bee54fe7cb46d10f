-- Behaviour conditions (`bought(within = 90d) >= 2`) count a person's paid orders in a
-- window of coalesce(paid_at, created_at): this index lets each count seek the window
-- instead of reading every order of the person. Its expression is the one the segment
-- SQL writes, word for word. It replaces orders_customer (customer_id, created_at), whose
-- lookups by customer it serves as well, so that imports keep one index per order.
DROP INDEX orders_customer;
CREATE INDEX orders_customer_paid ON orders (customer_id, (coalesce(paid_at, created_at)), status);
