// Package httpapi is regsync's HTTP API: a status sync of a domain in the
// Hostup API's shape, and a reset of a blocked transfer in the Hostway
// API's shape. [New] returns its handler.
//
// # Routes
//
//	POST /api/v2/domains/{id}/actions/status-sync                 scope read:domains
//	PUT  /accounts/{accountNumber}/domains/transfers/{domainName}  scope write:transfers
//	GET  /api/openapi.json                                        no authentication
//
// A status sync takes no body, or {}. It enqueues a status_sync job through
// regsync.enqueue_status_sync, or joins the one already pending for the
// domain, waits for the job's recorded output (up to [Config.SyncTimeout],
// 30 s by default) and answers 200 with the 15 keys of the Hostup API's
// response. A run that failed and will be retried has an output too
// (syncSuccess false, error set), which is answered. When the wait times
// out, it answers 504 sync_timeout; the sync goes on, and a new request
// joins it. A malformed domain id is answered like an unknown one, 404.
//
// A transfer reset takes no body, {}, or {"authInfo": "..."} with an
// authInfo of 6 to 16 printable ASCII characters. The domain name may be
// given in Unicode or A-labels; it is IDNA-normalized. The open transfer
// (blocked, waiting_auth_info or in_progress) of the domain must belong to
// the account. A supplied authInfo is stored sealed, as "regsync transfer
// set-auth-info" does; then a transfer_retry job is enqueued, or the one
// already pending kept, and the answer is 202 with no body. An in_progress
// transfer, and one waiting for an authInfo when none is supplied, answer
// 409.
//
// The Hostway documentation answers an invalid request with "404 Bad
// Request"; this API answers 400. Its example answers a reset with 204;
// this API answers 202, as its status code table says.
//
// # Authentication
//
// Every route but the OpenAPI document takes Authorization: Bearer
// <token>, the token of an API key made with "regsync apikey create":
// rsk_<26 characters>_<52 characters>, lower-case base32, the first part
// naming the key (key_<26 characters>), the second a 256-bit random
// secret of which only the SHA-256 is stored. A missing, malformed,
// unknown or revoked token answers 401 unauthorized with WWW-Authenticate:
// Bearer; a key without the route's scope 403 insufficient_scope. Each key
// may make [Config.RateLimit] requests a second, [Config.RateBurst] at
// once (5 and 10 by default); beyond that the answer is 429 rate_limited
// with Retry-After in seconds. Tokens and authInfo values are never
// logged, answered or counted.
//
// # Problems
//
// Every error is an RFC 7807 problem, Content-Type
// application/problem+json, with the Hostup API's fields: type
// (https://regsync.invalid/problems/<code>, an identifier, not a page),
// title, status, detail, code, instance (the request path), requestId,
// timestamp (RFC 3339, UTC, milliseconds) and, for invalid_request,
// errors: a list of {pointer, detail, code}. Branch on code, never on
// detail. The codes are stable:
//
//	code                     status  meaning
//	invalid_request          400     the path parameters or the body are invalid; see errors
//	unauthorized             401     no token, or a malformed, unknown or revoked one
//	insufficient_scope       403     the API key lacks the route's scope
//	transfer_forbidden       403     the domain's transfer belongs to another account
//	not_found                404     no such path
//	domain_not_found         404     no domain has the id
//	transfer_not_found       404     the domain has no open transfer
//	method_not_allowed       405     the path does not take the method; see Allow
//	transfer_not_resettable  409     the transfer is in progress, or waits for a new authInfo and none was supplied
//	rate_limited             429     the API key is over its rate limit; see Retry-After
//	internal_error           500     an unexpected error; quote the requestId
//	auth_info_unavailable    503     an authInfo was supplied but the server has no secret key to store it
//	sync_timeout             504     the status sync did not finish in time; it goes on
//
// The codes of errors entries: invalid_json (the body is not JSON),
// invalid_type (the body is not an object, or authInfo not a string),
// unknown_field, invalid_value (pointer /accountNumber, /domainName or
// /authInfo), too_large (the body is over 1 KiB). Their detail never
// quotes an authInfo.
//
// Every response carries the request id in X-Request-Id, and every log
// line of the request names it as request_id.
//
// # Metrics
//
//	regsync_http_requests_total{route, code}        counter
//	regsync_http_request_duration_seconds{route}    histogram
//
// route is the pattern matched, for example "POST
// /api/v2/domains/{id}/actions/status-sync", or "unmatched"; never a path.
package httpapi
