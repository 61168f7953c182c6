package caddymodule

import (
	"fmt"
	"net/http"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// responseCheckers returns the policies that judged req and need to see
// the upstream's answer, and the largest body they need.
func (h *Handler) responseCheckers(req *pipeline.Request, anonymous bool) ([]pipeline.ResponseChecker, int64) {
	var (
		cs    []pipeline.ResponseChecker
		limit int64
	)
	for p := range h.pipeline.Judges(req, anonymous) {
		if c, ok := p.Policy.(pipeline.ResponseChecker); ok {
			if n := c.ResponseLimit(req); n > 0 {
				cs = append(cs, c)
				limit = max(limit, n)
			}
		}
	}
	return cs, limit
}

// checkResponse runs the checkers over a buffered response. A truncated
// body that every checker let pass still cannot be sent: the rest was not
// kept, and what was not seen was not checked.
func checkResponse(req *pipeline.Request, cs []pipeline.ResponseChecker, rec *boundedRecorder) *pipeline.Failure {
	for _, c := range cs {
		if f := c.CheckResponse(req.HTTP.Context(), req, rec.status(), rec.header, rec.body, rec.truncated); f != nil {
			return f
		}
	}
	if rec.truncated {
		return pipeline.Refuse(http.StatusBadGateway, "response_unverifiable",
			fmt.Errorf("upstream response larger than the %d bytes a policy may check", rec.limit))
	}
	return nil
}

// boundedRecorder holds an upstream response, up to limit body bytes,
// without writing anything to the client. It deliberately does not unwrap
// to the client's writer: a flush must not send headers before the check.
type boundedRecorder struct {
	header    http.Header
	code      int
	body      []byte
	limit     int64
	truncated bool
}

func newBoundedRecorder(limit int64) *boundedRecorder {
	return &boundedRecorder{header: make(http.Header), limit: limit}
}

func (b *boundedRecorder) Header() http.Header { return b.header }

func (b *boundedRecorder) WriteHeader(code int) {
	if b.code == 0 && code >= 200 {
		b.code = code
	}
}

func (b *boundedRecorder) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	room := b.limit - int64(len(b.body))
	if int64(len(p)) > room {
		b.body = append(b.body, p[:max(room, 0)]...)
		b.truncated = true
		return len(p), nil
	}
	b.body = append(b.body, p...)
	return len(p), nil
}

// FlushError makes http.ResponseController flushes a no-op.
func (b *boundedRecorder) FlushError() error { return nil }

func (b *boundedRecorder) status() int {
	if b.code == 0 {
		return http.StatusOK
	}
	return b.code
}

// send writes the checked response to the client.
func (b *boundedRecorder) send(w http.ResponseWriter) error {
	hdr := w.Header()
	for k, vs := range b.header {
		hdr[k] = vs
	}
	w.WriteHeader(b.status())
	_, err := w.Write(b.body)
	return err
}
