package boltstore

import (
	"path/filepath"
	"testing"

	"github.com/gotwister/twister/swarm"
	"github.com/gotwister/twister/swarm/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) swarm.PostStore {
		s, err := Open(filepath.Join(t.TempDir(), "posts.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posts.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for k := int64(1); k <= 3; k++ {
		if err := s.Put("gotest2", k, []byte{byte(k)}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if k, _ := s.LastK("gotest2"); k != 3 {
		t.Errorf("LastK after reopen = %d", k)
	}
	if d, ok, _ := s.Get("gotest2", 2); !ok || d[0] != 2 {
		t.Errorf("Get after reopen = %v %v", d, ok)
	}
}
