package pipeline

import (
	"context"
	"net/http"
)

// ResponseChecker is implemented by policies that must see the upstream's
// answer before the client does (a SMART patient/ scope: does what a read
// returned belong to the patient in context?).
//
// The handler, for a request the pipeline allowed, asks every policy that
// ran (global and route) for its ResponseLimit. If any is above zero it
// buffers the upstream response (status, header, body) up to the largest
// limit without writing anything to the client, then calls CheckResponse
// on each such policy before req.Finish. A nil result from all lets the
// buffered response through; a Failure is answered instead (as a refusal,
// never with the upstream's body). A body over the limit, or a
// Content-Encoding the checker cannot read, must not pass unchecked:
// CheckResponse receives what was buffered and decides, or the handler
// answers 502 response_unverifiable.
type ResponseChecker interface {
	// ResponseLimit returns how many body bytes CheckResponse needs for
	// this request, or 0 when it needs to see nothing.
	ResponseLimit(req *Request) int64
	// CheckResponse decides over the buffered response. truncated is set
	// when the body was longer than the limit and was cut.
	CheckResponse(ctx context.Context, req *Request, status int, header http.Header, body []byte, truncated bool) *Failure
}
