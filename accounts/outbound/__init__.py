"""What leaves the service about what happened: events announced after commit
(`events`), signed webhooks (`webhooks`, `webhook_delivery`), the stored audit trail
(`audit`) and Prometheus metrics (`metrics`)."""
