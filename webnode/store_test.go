package webnode

import (
	"bytes"
	"testing"

	"github.com/gotwister/twister/swarm"
	"github.com/gotwister/twister/swarm/storetest"
)

// testKV checks the key-value half of a Store.
func testKV(t *testing.T, s Store) {
	if _, ok, err := s.GetKV("follows"); ok || err != nil {
		t.Fatalf("GetKV on empty store: %v %v", ok, err)
	}
	if err := s.PutKV("follows", []byte(`["alice"]`)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutKV("headers/0", bytes.Repeat([]byte{7}, 84*3)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutKV("follows", []byte(`["alice","bob"]`)); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.GetKV("follows"); !ok || err != nil || string(v) != `["alice","bob"]` {
		t.Fatalf("GetKV = %q %v %v", v, ok, err)
	}
	if v, _, _ := s.GetKV("headers/0"); len(v) != 84*3 || v[83] != 7 {
		t.Fatalf("binary value = %x", v)
	}
	if err := s.PutKV("empty", nil); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.GetKV("empty"); !ok || err != nil || len(v) != 0 {
		t.Fatalf("empty value: %q %v %v", v, ok, err)
	}
	if err := s.DeleteKV("follows"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKV("never-there"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.GetKV("follows"); ok {
		t.Fatal("deleted key still there")
	}
}

func TestMemStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) swarm.PostStore { return NewMemStore() })
	testKV(t, NewMemStore())
}
