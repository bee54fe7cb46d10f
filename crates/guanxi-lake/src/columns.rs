//! The lake's schema and the column buffers that fill record batches.

use std::sync::Arc;

use arrow_array::builder::{
    Int32Builder, Int64Builder, StringBuilder, StringDictionaryBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, Utc};

use crate::LakeOrder;

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// One row per order line. `order_id` and `revision` come first: readers that only need
/// "which rows are live" project these two.
pub fn schema() -> Schema {
    Schema::new(vec![
        Field::new("order_id", DataType::Int64, false),
        Field::new("revision", DataType::Int64, false),
        // Null for a guest order.
        Field::new("customer_id", DataType::Int64, true),
        Field::new("source", dict(), false),
        Field::new("order_external_id", DataType::Utf8, false),
        Field::new("customer_external_id", DataType::Utf8, true),
        Field::new("status", dict(), false),
        Field::new("created_at", ts(), false),
        Field::new("paid_at", ts(), true),
        Field::new("shipped_at", ts(), true),
        Field::new("arrived_at", ts(), true),
        Field::new("signed_at", ts(), true),
        Field::new("completed_at", ts(), true),
        Field::new("closed_at", ts(), true),
        Field::new("refunded_at", ts(), true),
        Field::new("line_no", DataType::Int32, false),
        Field::new("sku", DataType::Utf8, true),
        Field::new("title", DataType::Utf8, true),
        Field::new("category", dict(), true),
        Field::new("quantity", DataType::Int64, false),
        Field::new("amount_cents", DataType::Int64, false),
        Field::new("discount_cents", DataType::Int64, false),
        Field::new("cost_cents", DataType::Int64, true),
        Field::new("refund_cents", DataType::Int64, false),
        Field::new("shipping_cents", DataType::Int64, false),
        Field::new("coupon", DataType::Utf8, true),
        Field::new("campaign", DataType::Utf8, true),
        Field::new("province", dict(), true),
        Field::new("city", dict(), true),
    ])
}

pub(crate) fn id_and_revision_indices() -> (usize, usize) {
    (0, 1)
}

fn micros(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp_micros())
}

/// Column builders for one batch; the field order matches [`schema`].
#[derive(Default)]
pub(crate) struct Columns {
    rows: usize,
    order_id: Int64Builder,
    revision: Int64Builder,
    customer_id: Int64Builder,
    source: StringDictionaryBuilder<Int32Type>,
    order_external_id: StringBuilder,
    customer_external_id: StringBuilder,
    status: StringDictionaryBuilder<Int32Type>,
    times: [TimestampMicrosecondBuilder; 8],
    line_no: Int32Builder,
    sku: StringBuilder,
    title: StringBuilder,
    category: StringDictionaryBuilder<Int32Type>,
    quantity: Int64Builder,
    amount: Int64Builder,
    discount: Int64Builder,
    cost: Int64Builder,
    refund: Int64Builder,
    shipping: Int64Builder,
    coupon: StringBuilder,
    campaign: StringBuilder,
    province: StringDictionaryBuilder<Int32Type>,
    city: StringDictionaryBuilder<Int32Type>,
}

impl Columns {
    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    pub(crate) fn push(&mut self, o: LakeOrder<'_>) {
        let order = o.order;
        let t = &order.times;
        let times = [
            Some(order.created_at),
            t.paid_at,
            t.shipped_at,
            t.arrived_at,
            t.signed_at,
            t.completed_at,
            t.closed_at,
            t.refunded_at,
        ];
        for (n, line) in order.lines.iter().enumerate() {
            self.rows += 1;
            self.order_id.append_value(o.id);
            self.revision.append_value(o.revision);
            self.customer_id.append_option(o.customer_id);
            self.source.append_value(order.key.source.as_str());
            self.order_external_id.append_value(&order.key.external_id);
            self.customer_external_id
                .append_option(order.customer.as_ref().map(|c| c.external_id.as_str()));
            self.status.append_value(order.status.as_str());
            for (b, v) in self.times.iter_mut().zip(times) {
                b.append_option(micros(v));
            }
            self.line_no.append_value(n as i32 + 1);
            self.sku.append_option(line.sku.as_deref());
            self.title.append_option(line.title.as_deref());
            self.category.append_option(line.category.as_deref());
            self.quantity.append_value(i64::from(line.quantity));
            self.amount.append_value(line.amount.0);
            self.discount.append_value(line.discount.0);
            self.cost.append_option(line.cost.map(|c| c.0));
            self.refund.append_value(line.refund.0);
            self.shipping.append_value(order.shipping_fee.0);
            self.coupon.append_option(order.coupon.as_deref());
            self.campaign.append_option(order.campaign.as_deref());
            self.province.append_option(order.province.as_deref());
            self.city.append_option(order.city.as_deref());
        }
    }

    /// Takes the buffered rows as a batch and empties the buffers.
    pub(crate) fn take_batch(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        self.rows = 0;
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.order_id.finish()),
            Arc::new(self.revision.finish()),
            Arc::new(self.customer_id.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.order_external_id.finish()),
            Arc::new(self.customer_external_id.finish()),
            Arc::new(self.status.finish()),
        ];
        for b in self.times.iter_mut() {
            cols.push(Arc::new(b.finish().with_timezone("UTC")));
        }
        cols.extend([
            Arc::new(self.line_no.finish()) as ArrayRef,
            Arc::new(self.sku.finish()),
            Arc::new(self.title.finish()),
            Arc::new(self.category.finish()),
            Arc::new(self.quantity.finish()),
            Arc::new(self.amount.finish()),
            Arc::new(self.discount.finish()),
            Arc::new(self.cost.finish()),
            Arc::new(self.refund.finish()),
            Arc::new(self.shipping.finish()),
            Arc::new(self.coupon.finish()),
            Arc::new(self.campaign.finish()),
            Arc::new(self.province.finish()),
            Arc::new(self.city.finish()),
        ]);
        RecordBatch::try_new(Arc::new(schema()), cols)
    }
}
