"""Ticket notifications by mail, off the request path.

The ticket events of the webhook outbox (`ticket.created`, `comment.created`, `ticket.updated`
with an assignee change) reach `router.route_stream_event` from the webhooks table's stream; it
decides who is told (`recipients`) and puts one message per recipient on the notifications
queue (`queue`). `sender.process_queue_event` takes those messages, checks again that the
recipient may and wants to receive it (same organization, active, preferences, the ticket's
visibility), renders the mail (`render`) and sends it; a failed send is handed back to SQS,
which retries it and, after `maxReceiveCount` receives, moves it to the dead-letter queue.
`unsubscribe` signs and applies the one-click `List-Unsubscribe` links.
"""
