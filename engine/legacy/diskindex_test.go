package legacy

import (
	"fmt"
	"math/rand"
	"testing"
)

func TestDiskIndexPutGet(t *testing.T) {
	x, err := newDiskIndex(t.TempDir(), 5000)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	seed := int64(7)
	rng := rand.New(rand.NewSource(seed))
	want := map[int64]string{}
	for len(want) < 5000 {
		id := rng.Int63n(1<<40) - 1<<39 // negative ids too
		v := fmt.Sprintf(`["k%d", %d]`, id, rng.Intn(100))
		if rng.Intn(50) == 0 {
			v = string(make([]byte, 70000)) // larger than any read buffer
		}
		want[id] = v
		if err := x.Put(id, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Done(); err != nil {
		t.Fatal(err)
	}
	for id, v := range want {
		got, ok, err := x.Get(id, nil)
		if err != nil || !ok || string(got) != v {
			t.Fatalf("seed %d: id %d: got %q %v %v", seed, id, got, ok, err)
		}
	}
	if _, ok, err := x.Get(1<<50, nil); ok || err != nil {
		t.Errorf("an absent id is found: %v %v", ok, err)
	}
	if ok, _ := x.Has(1 << 50); ok {
		t.Error("Has finds an absent id")
	}
}

func TestDiskIndexList(t *testing.T) {
	x, err := newDiskIndex(t.TempDir(), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for owner := int64(1); owner <= 100; owner++ {
		for v := int64(0); v < owner%7; v++ {
			if err := x.Add(owner, owner*1000+v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := x.Done(); err != nil {
		t.Fatal(err)
	}
	var buf []int64
	for owner := int64(1); owner <= 100; owner++ {
		if buf, err = x.List(owner, buf); err != nil {
			t.Fatal(err)
		}
		if int64(len(buf)) != owner%7 {
			t.Fatalf("owner %d: %d values, want %d", owner, len(buf), owner%7)
		}
		for i, v := range buf {
			if v != owner*1000+int64(i) {
				t.Fatalf("owner %d: values %v out of order", owner, buf)
			}
		}
	}
	if l, err := x.List(5000, nil); err != nil || len(l) != 0 {
		t.Errorf("an absent owner has values: %v %v", l, err)
	}
}

func TestDiskIndexFull(t *testing.T) {
	x, err := newDiskIndex(t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var last error
	for i := int64(0); i < 2000 && last == nil; i++ {
		last = x.Put(i, nil)
	}
	if last == nil {
		t.Fatal("an index takes more entries than it was sized for without a word")
	}
}
