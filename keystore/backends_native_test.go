//go:build !js

package keystore

import "testing"

type namedBackend struct {
	name string
	open func(t *testing.T) Backend
}

func testBackends() []namedBackend {
	return []namedBackend{
		{"mem", func(*testing.T) Backend { return NewMemBackend() }},
		{"dir", func(t *testing.T) Backend {
			b, err := NewDirBackend(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
	}
}
