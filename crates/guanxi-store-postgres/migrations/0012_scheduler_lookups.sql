-- Two more lookups every scheduler pass makes (`guanxi bench schedule`, 1M customers):
-- a class-triggered program (second purchase: who became a first-time buyer) asks for the
-- customers who entered one class of one kind in its window, which the as_of index alone
-- answered by reading every transition of the window's builds; a birthday program asks
-- for the customers born on a month-day, which read every customer. The birthday index
-- holds only the people it can find, on the expressions the lookup writes.
CREATE INDEX class_transitions_entered ON class_transitions (kind, to_class, as_of);
CREATE INDEX customers_birthday ON customers
    ((CAST(EXTRACT(MONTH FROM birthday) AS BIGINT)), (CAST(EXTRACT(DAY FROM birthday) AS BIGINT)))
    WHERE birthday IS NOT NULL AND merged_into IS NULL;
