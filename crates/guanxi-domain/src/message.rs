//! Messages (触达): touches sent to customers by programs and campaigns.

names! {
    /// The life of a message, from the outbox to the customer's response.
    pub enum MessageStatus {
        Queued = "queued",
        Sent = "sent",
        Delivered = "delivered",
        Failed = "failed",
        Clicked = "clicked",
        Replied = "replied",
        Unsubscribed = "unsubscribed",
        /// Never sent: the contact policy refused it or the run stopped (reason kept).
        Dropped = "dropped",
    }
}
