//! Loading records into the store and the lake in one unit of work: one store
//! transaction, one staged lake append, published together or not at all. Used by every
//! import and by the demo shop.

use std::borrow::Cow;

use guanxi_domain::catalogue::{Catalogue, KeywordRule};
use guanxi_domain::{Customer, Order, Review, ServiceRecord};
use guanxi_lake::{Appender, Lake, LakeOrder};
use guanxi_store::{ImportRecord, Outcome, Store, StoreTx};

use crate::formats::catalogue::Entry;
use crate::{ImportError, Summary};

pub struct Loader {
    tx: Box<dyn StoreTx>,
    appender: Appender,
    /// The product catalogue as of this unit of work: it fills the orders' lines.
    catalogue: Catalogue,
    /// Keyword rules read by this unit of work; they replace the stored ones.
    keywords: Option<Vec<KeywordRule>>,
}

fn tally(outcomes: &[Outcome], inserted: &mut u64, updated: &mut u64, unchanged: &mut u64) {
    for o in outcomes {
        *match o {
            Outcome::Inserted => &mut *inserted,
            Outcome::Updated => &mut *updated,
            Outcome::Unchanged => &mut *unchanged,
        } += 1;
    }
}

/// Counts service records or reviews written, and the customers they brought.
fn records_written(r: &guanxi_store::Upserted, s: &mut Summary) {
    tally(
        &r.outcomes,
        &mut s.records_inserted,
        &mut s.records_updated,
        &mut s.records_unchanged,
    );
    s.customers_inserted += r.customers_inserted;
}

impl Loader {
    /// Starts a unit of work; `label` names its staging directory in the lake.
    pub async fn begin(store: &dyn Store, lake: &Lake, label: &str) -> Result<Loader, ImportError> {
        let appender = lake.appender(&format!("{label}-{}", std::process::id()))?;
        let catalogue = store.catalogue().await?;
        let tx = store.begin().await?;
        Ok(Loader {
            tx,
            appender,
            catalogue,
            keywords: None,
        })
    }

    /// Upserts orders, their lines completed from the catalogue; those inserted or updated
    /// also go to the lake.
    pub async fn orders(&mut self, batch: &[Order], s: &mut Summary) -> Result<(), ImportError> {
        let batch = if self.catalogue.is_empty() {
            Cow::Borrowed(batch)
        } else {
            let mut filled = batch.to_vec();
            for o in &mut filled {
                self.catalogue.fill(o);
            }
            Cow::Owned(filled)
        };
        let r = self.tx.upsert_orders(&batch).await?;
        tally(
            &r.outcomes,
            &mut s.orders_inserted,
            &mut s.orders_updated,
            &mut s.orders_unchanged,
        );
        s.customers_inserted += r.customers_inserted;
        for w in &r.written {
            self.appender.push(LakeOrder {
                id: w.id,
                customer_id: w.customer_id,
                revision: w.revision,
                order: &w.order,
            })?;
        }
        Ok(())
    }

    pub async fn customers(&mut self, batch: &[Customer], s: &mut Summary) -> Result<(), ImportError> {
        let r = self.tx.upsert_customers(batch).await?;
        tally(
            &r.outcomes,
            &mut s.customers_inserted,
            &mut s.customers_updated,
            &mut s.customers_unchanged,
        );
        Ok(())
    }

    pub async fn service_records(&mut self, batch: &[ServiceRecord], s: &mut Summary) -> Result<(), ImportError> {
        let r = self.tx.upsert_service_records(batch).await?;
        records_written(&r, s);
        Ok(())
    }

    pub async fn reviews(&mut self, batch: &[Review], s: &mut Summary) -> Result<(), ImportError> {
        let r = self.tx.upsert_reviews(batch).await?;
        records_written(&r, s);
        Ok(())
    }

    /// Upserts products and collects keyword rules into the catalogue.
    pub async fn catalogue(&mut self, batch: &[Entry], s: &mut Summary) -> Result<(), ImportError> {
        let mut products = Vec::new();
        for e in batch {
            match e {
                Entry::Product(p) => products.push(p.clone()),
                Entry::Keyword(k) => {
                    s.keyword_rules += 1;
                    self.keywords.get_or_insert_default().push(k.clone());
                }
            }
        }
        let r = self.tx.upsert_products(&products).await?;
        records_written(&r, s);
        self.catalogue.add_products(products);
        Ok(())
    }

    /// After a products import: stores the keyword rules read, then completes the lines
    /// of the orders already stored (those the catalogue changes are updated, in the store
    /// and the lake), so that a catalogue imported after the orders counts as much as one
    /// imported before.
    pub async fn complete_stored_orders(&mut self, store: &dyn Store, s: &mut Summary) -> Result<(), ImportError> {
        if let Some(rules) = self.keywords.take() {
            self.tx.replace_keywords(&rules).await?;
            self.catalogue.set_keywords(&rules);
        }
        if self.catalogue.is_empty() {
            return Ok(());
        }
        // Read outside the transaction: this unit of work has written no order.
        let mut after = 0;
        loop {
            let page = store.orders_after(after, 2000).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            let mut changed: Vec<Order> = page.into_iter().map(|o| o.order).collect();
            changed.retain_mut(|o| self.catalogue.fill(o));
            if !changed.is_empty() {
                self.orders(&changed, s).await?;
            }
        }
        Ok(())
    }

    /// Records the import, commits the store, then publishes the lake files (see the
    /// lake's crate docs for why in this order), and fills the totals of `s`.
    pub async fn commit(
        mut self,
        record: &ImportRecord,
        store: &dyn Store,
        lake: &Lake,
        s: &mut Summary,
    ) -> Result<(), ImportError> {
        self.tx.record_import(record).await?;
        self.publish(lake).await?;
        let counts = store.counts().await?;
        s.customers_total = counts.customers;
        s.orders_total = counts.orders;
        s.order_lines_total = counts.order_lines;
        Ok(())
    }

    /// Records a delivery of a live event in this unit of work; `false` when it was
    /// received before (the caller then aborts: nothing is applied twice).
    pub async fn received(&mut self, event: &guanxi_store::ReceivedEvent) -> Result<bool, ImportError> {
        Ok(self.tx.record_event(event).await?)
    }

    /// Holds `key` until this unit of work ends (see [`guanxi_store::StoreTx::hold`]).
    pub async fn hold(&mut self, key: &str) -> Result<(), ImportError> {
        Ok(self.tx.hold(key).await?)
    }

    /// Erases a customer's personal data in this unit of work (see
    /// [`guanxi_store::StoreTx::erase_customer`]); its orders are rewritten by the caller
    /// through [`Loader::orders`], so that the lake gets them too.
    pub async fn erase_customer(&mut self, id: i64, anonymous_id: &str) -> Result<(), ImportError> {
        Ok(self.tx.erase_customer(id, anonymous_id).await?)
    }

    /// Commits a live event's unit of work (recorded with [`Loader::received`]).
    pub async fn commit_event(self, lake: &Lake) -> Result<(), ImportError> {
        self.publish(lake).await
    }

    /// Commits the store, then publishes the lake files (see the lake's crate docs for
    /// why in this order); a fragmented lake is compacted.
    async fn publish(self, lake: &Lake) -> Result<(), ImportError> {
        let staged = match self.appender.finish() {
            Ok(staged) => staged,
            Err(e) => {
                let _ = self.tx.rollback().await;
                return Err(e.into());
            }
        };
        if let Err(e) = self.tx.commit().await {
            let _ = staged.discard();
            return Err(e.into());
        }
        staged.publish(lake)?;
        lake.compact_if_fragmented()?;
        Ok(())
    }

    /// Rolls back and deletes what was staged.
    pub async fn abort(self) {
        let _ = self.tx.rollback().await;
        let _ = self.appender.finish().and_then(|s| s.discard());
    }
}

/// A batch of records for the [`Pipe`].
pub enum Batch {
    Orders(Vec<Order>),
    Customers(Vec<Customer>),
    ServiceRecords(Vec<ServiceRecord>),
    Reviews(Vec<Review>),
    Catalogue(Vec<Entry>),
}

/// How many batches may wait for the writer: enough to keep it busy, few enough to keep
/// memory flat.
const PIPE_DEPTH: usize = 2;

/// A [`Loader`] on a task of its own, so that reading and parsing the next batch overlaps
/// with writing this one (on two cores, the import's two halves run side by side).
pub struct Pipe {
    sender: tokio::sync::mpsc::Sender<Batch>,
    writer: tokio::task::JoinHandle<(Loader, Summary, Result<(), ImportError>)>,
}

impl Pipe {
    /// Starts the writer task. Must be called within a Tokio runtime.
    pub fn start(mut loader: Loader) -> Pipe {
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<Batch>(PIPE_DEPTH);
        let writer = tokio::spawn(async move {
            let mut s = Summary::default();
            while let Some(batch) = receiver.recv().await {
                let written = match &batch {
                    Batch::Orders(b) => loader.orders(b, &mut s).await,
                    Batch::Customers(b) => loader.customers(b, &mut s).await,
                    Batch::ServiceRecords(b) => loader.service_records(b, &mut s).await,
                    Batch::Reviews(b) => loader.reviews(b, &mut s).await,
                    Batch::Catalogue(b) => loader.catalogue(b, &mut s).await,
                };
                if let Err(e) = written {
                    // Dropping the receiver makes the next send fail: the reader stops.
                    return (loader, s, Err(e));
                }
            }
            (loader, s, Ok(()))
        });
        Pipe { sender, writer }
    }

    /// Queues a batch; waits while the writer is behind. An error means the writer
    /// stopped: [`Pipe::finish`] says why.
    pub async fn send(&self, batch: Batch) -> Result<(), ImportError> {
        self.sender
            .send(batch)
            .await
            .map_err(|_| ImportError::Writer("it no longer takes batches".into()))
    }

    /// Waits for every queued batch to be written; adds the writer's counts to `summary`.
    /// On a write error the loader is aborted (rolled back, staged files deleted).
    pub async fn finish(self, summary: &mut Summary) -> Result<Loader, ImportError> {
        drop(self.sender);
        let (loader, s, result) = self.writer.await.map_err(|e| ImportError::Writer(e.to_string()))?;
        summary.add_writes(&s);
        match result {
            Ok(()) => Ok(loader),
            Err(e) => {
                loader.abort().await;
                Err(e)
            }
        }
    }
}
