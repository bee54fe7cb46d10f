-- Coupons (issue 17): what programs, tier benefits and campaigns issue — a code the shop
-- can honour, its value and validity, who received it — and the order that redeemed it,
-- matched on the order's coupon code when orders are imported or arrive by webhook.
-- issue_key makes an issuance happen once (a program step's ledger key, a campaign's
-- member, an operator's request).
CREATE TABLE coupons (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    issue_key TEXT NOT NULL UNIQUE,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    definition TEXT NOT NULL,
    kind TEXT NOT NULL,                  -- amount, free-shipping
    value_cents BIGINT NOT NULL,
    min_spend_cents BIGINT NOT NULL,
    issued_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    source TEXT NOT NULL,                -- the program, tier:NAME or manual:OPERATOR
    redeemed_order_id BIGINT REFERENCES orders (id),
    redeemed_at TIMESTAMPTZ
);
CREATE INDEX coupons_customer ON coupons (customer_id);
CREATE INDEX coupons_source ON coupons (source);
CREATE INDEX coupons_open ON coupons (code) WHERE redeemed_order_id IS NULL;
-- Redemptions are matched by the code an order names.
CREATE INDEX orders_coupon ON orders (coupon) WHERE coupon IS NOT NULL;
