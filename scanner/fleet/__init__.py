"""The fleet: reports sent from every machine (submit, spool), received and stored centrally (collector),
loaded from files (ingest), and summarised for officials (fleet views)."""
