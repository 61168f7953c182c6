package caddymodule

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSMARTCaddyfile(t *testing.T) {
	got, err := adapt(t, new(SMART), `smart {
		base /fhir
		operation $everything rs
		operation validate r
		max_body 2MiB
		max_response 16MiB
		claim patient patient launch_patient
	}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"base":"/fhir","operations":{"everything":"rs","validate":"r"},"max_body":2097152,"max_response":16777216,"claims":{"patient":["patient","launch_patient"]}}`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	for _, tt := range []struct{ name, input, wantErr string }{
		{"a relative base", `smart {
			base fhir
		}`, `smart base "fhir": want a path starting with /`},
		{"letters out of order", `smart {
			operation $everything sr
		}`, `smart operation $everything: permissions "sr"`},
		{"v1 words as letters", `smart {
			operation $everything read
		}`, `permissions "read"`},
		{"an operation without letters", `smart {
			operation $everything
		}`, "want <name> <permission letters>"},
		{"an unknown option", `smart {
			versions v1
		}`, `smart: unknown option "versions"`},
	} {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			_, err := adapt(t, new(SMART), tt.input)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
