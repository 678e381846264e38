"""Ticket attachments: presigned uploads, scan-on-put (ClamAV), quarantine, presigned downloads.

Modules, from the outside in:
- `service`: what the API calls (create upload, list, get, download, delete) with a Principal.
- `scanning/`: the scan-on-put pipeline run for every object created in the uploads bucket:
  `pipeline` (the decision and the retry sweep), `engine` (the antivirus engine interface and
  its `clamscan` implementation, fail closed), `definitions` (ClamAV definitions: sync from S3
  before a scan, refresh with freshclam), `sniff` (the real type from magic bytes).
- `filenames`: filename rules and the `Content-Disposition` value.
- `models`, `storage`, `schemas`: the DynamoDB records, the S3 operations, the response shapes.
"""
