package caddymodule

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/healthgate/healthgate/policy/audit"
	"github.com/healthgate/healthgate/policy/identity"
)

func benchLogRecord() *audit.Record {
	return &audit.Record{
		Time: time.Now(), RequestID: "0b6f6d0e-7f44-4b8e-9c52-3c9b0c7b1d11", Route: "fhir", Method: "GET", Host: "gw.example",
		Path: "/fhir/Patient/123", FHIR: &audit.FHIR{Interaction: "read", Type: "Patient", ID: "123"},
		Decision: audit.DecisionAllow, Status: 200, UpstreamStatus: 200,
		User:     &identity.Facet{Kind: identity.User, ID: "alice", Proof: identity.ProofJWT, Source: "https://idp.example"},
		Verified: []string{"oidc"}, Token: &identity.Token{Issuer: "https://idp.example", Subject: "alice", ClientID: "app", ID: "jti-1"},
		Grounds: []string{"user/Patient.read"}, Policies: []audit.PolicyResult{{Policy: "grants", Effect: "allow", Grounds: []string{"user/Patient.read"}}},
		ClientIP: "192.0.2.7", Duration: 0.001,
	}
}

func benchEncode(b *testing.B, fields []zap.Field) {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	entry := zapcore.Entry{Level: zapcore.InfoLevel, Time: time.Now(), LoggerName: AuditLoggerName, Message: "decision"}
	for b.Loop() {
		buf, err := enc.EncodeEntry(entry, fields)
		if err != nil {
			b.Fatal(err)
		}
		buf.Free()
	}
}

// BenchmarkLogRecordReflected is the baseline: zap encoding the record by
// reflection, nested under one key.
func BenchmarkLogRecordReflected(b *testing.B) {
	benchEncode(b, []zap.Field{zap.Any("record", benchLogRecord())})
}

// BenchmarkLogRecordInline is what the auditor writes: the record's fields
// at the top level through logRecord.
func BenchmarkLogRecordInline(b *testing.B) {
	benchEncode(b, []zap.Field{zap.Inline(logRecord{benchLogRecord()})})
}
