package caddymodule

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestDeviceBasicCaddyfile(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TABLET_HASH", string(h))
	got, err := adapt(t, new(DeviceBasic), `device_basic {
		device tablet-1 {env.TABLET_HASH}
		from_authorization
		token_path /auth/oauth2_token
	}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"devices":{"tablet-1":"{env.TABLET_HASH}"},"from_authorization":true,"token_paths":["/auth/oauth2_token"]}`; got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
	for _, tt := range []struct{ name, input, wantErr string }{
		{"no devices", `device_basic`, "device_basic: no devices configured"},
		{"a device without a hash", `device_basic {
			device tablet-1
		}`, "device_basic device: want <id> <bcrypt hash>"},
		{"a device given twice", `device_basic {
			device a $2a$04$abc
			device a $2a$04$abc
		}`, `device_basic device "a": given twice`},
		{"a hash that is not bcrypt", `device_basic {
			device a plaintext
		}`, `device_basic: grants: device "a": hash is neither bcrypt nor base64`},
		{"an unknown option", `device_basic {
			realm x
		}`, `device_basic: unknown option "realm"`},
	} {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			_, err := adapt(t, new(DeviceBasic), tt.input)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
