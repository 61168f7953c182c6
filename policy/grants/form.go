package grants

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/healthgate/healthgate/policy/body"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// Default body limits.
const (
	// DefaultMaxForm bounds a token request or POST _search body: 64 KiB.
	DefaultMaxForm int64 = 64 << 10
	// DefaultMaxBody bounds a FHIR request body the SMART policy reads (a
	// batch, or a resource created under a patient/ scope): 1 MiB.
	DefaultMaxBody int64 = 1 << 20
)

// errNotForm reports a body that is not application/x-www-form-urlencoded.
var errNotForm = errors.New("grants: body is not application/x-www-form-urlencoded")

// mediaType returns the request's media type, lower-cased, or "".
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// readBody reads the body of req, at most max bytes, and puts the same
// bytes back for the upstream. Too large a body is a 413 *pipeline.Failure.
func readBody(req *pipeline.Request, max int64) ([]byte, error) {
	r := req.HTTP
	sp, err := body.SpoolRequest(r, body.Options{Max: max, Memory: max})
	if err != nil {
		if errors.Is(err, body.ErrTooLarge) {
			return nil, pipeline.Refuse(http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, err)
		}
		return nil, fmt.Errorf("grants: reading body: %w", err)
	}
	req.Defer(sp.Cleanup)
	sp.Replace(r)
	rd := sp.Reader()
	defer rd.Close()
	raw, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("grants: rereading body: %w", err)
	}
	return raw, nil
}

// readForm reads a form body (see readBody).
func readForm(req *pipeline.Request, max int64) (url.Values, error) {
	if mediaType(req.HTTP) != "application/x-www-form-urlencoded" {
		return nil, errNotForm
	}
	raw, err := readBody(req, max)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, fmt.Errorf("grants: parsing form body: %w", err)
	}
	return form, nil
}
