package edmsgen

import (
	"context"
	"fmt"
	"strings"
)

// specialUsers are users whose names carry the Unicode and escaping edge cases.
var specialUsers = []struct{ username, first, last, email string }{
	{"محمد.الفارسي", "محمد", "الفارسي", "m.alfarsi@example.com"},
	{"דוד.כהן", "דוד", "כהן", "david.cohen@example.com"},
	{"李小龍", "小龍", "李", "li@example.cn"},
	{"zoe\u0308.mu\u0308ller", "Zoe\u0308", "Mu\u0308ller", "zoe@example.de"},
	{"👩‍💻dev", "👩‍💻", "Developer 👨‍👩‍👧‍👦", "dev@example.org"},
	{"Σωκράτης", "Σωκράτης", "Αθηναίος", "socrates@example.gr"},
	{"escape.user", literalBackslashN, "tab\there\nnew\\line", "escape@example.com"},
	{"empty.names", "", "", ""},
}

// users creates the bulk user, the special users and the random users.
func (g *generator) users(ctx context.Context) error {
	start, err := g.l.NextID(ctx, "auth_user", "id")
	if err != nil {
		return err
	}
	n := 1 + len(specialUsers) + g.p.Users
	g.bulkID = int32(start)
	for i := 1; i < n; i++ {
		g.userIDs = append(g.userIDs, int32(start)+int32(i))
	}
	cols := []string{"id", "password", "last_login", "is_superuser", "username", "first_name", "last_name",
		"email", "is_staff", "is_active", "date_joined"}
	return g.l.Copy(ctx, "auth_user", cols, n, func(i int) ([]any, error) {
		id := int32(start) + int32(i)
		joined := g.someTime()
		var lastLogin any
		if g.pct(70) {
			lastLogin = g.after(joined, 300*24*3600)
		}
		switch {
		case i == 0:
			return []any{id, g.password(), lastLogin, false, BulkUsername, "Bulk", "Importer",
				"bulk@example.com", false, true, joined}, nil
		case i <= len(specialUsers):
			u := specialUsers[i-1]
			return []any{id, g.password(), lastLogin, false, u.username, u.first, u.last,
				u.email, i%2 == 0, true, joined}, nil
		}
		first, last := g.f.FirstName(), g.f.LastName()
		if g.pct(15) {
			first = pick(g, unicodeSamples)
		}
		username := fmt.Sprintf("%s.%s.%d", asciiName(first), asciiName(last), i)
		email := username + "@" + strings.ToLower(asciiName(g.f.Company())) + ".example"
		if g.pct(5) {
			email = ""
		}
		return []any{id, g.password(), lastLogin, g.pct(1), username, first, last,
			email, g.pct(10), g.pct(92), joined}, nil
	})
}

var groupNames = []string{"Équipe qualité", "فريق المراجعة", "品質保証チーム", "Команда юристов", "צוות משפטי", "🛡️ Compliance"}

// groups creates the generated groups; groupIDs then holds the seeded and generated groups.
func (g *generator) groups(ctx context.Context) error {
	g.groupIDs = append(g.groupIDs, g.seededGroupIDs...)
	if g.p.Groups == 0 {
		return nil
	}
	start, err := g.l.NextID(ctx, "auth_group", "id")
	if err != nil {
		return err
	}
	for i := range g.p.Groups {
		g.groupIDs = append(g.groupIDs, int32(start)+int32(i))
	}
	return g.l.Copy(ctx, "auth_group", []string{"id", "name"}, g.p.Groups, func(i int) ([]any, error) {
		name := fmt.Sprintf("%s %s %d", g.f.Adjective(), g.f.NounCollectivePeople(), i)
		if i < len(groupNames) {
			name = groupNames[i]
		}
		return []any{int32(start) + int32(i), name}, nil
	})
}

// userGroups puts the admin into editors and each generated user into up to two groups.
func (g *generator) userGroups(ctx context.Context) error {
	type pair struct{ user, group int32 }
	pairs := []pair{{g.adminID, g.seededGroups["editors"]}}
	for _, u := range append([]int32{g.bulkID}, g.userIDs...) {
		k := g.f.IntN(3)
		seen := map[int32]bool{}
		for range k {
			grp := pick(g, g.groupIDs)
			if !seen[grp] {
				seen[grp] = true
				pairs = append(pairs, pair{u, grp})
			}
		}
	}
	return g.l.Copy(ctx, "auth_user_groups", []string{"user_id", "group_id"}, len(pairs), func(i int) ([]any, error) {
		return []any{pairs[i].user, pairs[i].group}, nil
	})
}

// userPermissions grants one to three seeded permissions directly to every fourth user.
func (g *generator) userPermissions(ctx context.Context) error {
	type pair struct{ user, perm int32 }
	var pairs []pair
	for i, u := range g.userIDs {
		if i%4 != 0 {
			continue
		}
		seen := map[int32]bool{}
		for range 1 + g.f.IntN(3) {
			p := pick(g, g.permissionIDs)
			if !seen[p] {
				seen[p] = true
				pairs = append(pairs, pair{u, p})
			}
		}
	}
	return g.l.Copy(ctx, "auth_user_user_permissions", []string{"user_id", "permission_id"}, len(pairs), func(i int) ([]any, error) {
		return []any{pairs[i].user, pairs[i].perm}, nil
	})
}

// specialTags are tag names with the Unicode and escaping edge cases.
var specialTags = []string{
	"🏷️ wichtig", "عاجل", "דחוף", "緊急", "e\u0301te\u0301", "👨‍👩‍👧‍👦 family", "Ελληνικά", "срочно",
	literalBackslashN, "tab\ttag", "new\nline", `back\slash`, "  spaced  ", "",
}

// tags creates the special tags then random ones.
func (g *generator) tags(ctx context.Context) error {
	start, err := g.l.NextID(ctx, "documents_tag", "id")
	if err != nil {
		return err
	}
	n := len(specialTags) + g.p.Tags
	for i := range n {
		g.tagIDs = append(g.tagIDs, int32(start)+int32(i))
	}
	return g.l.Copy(ctx, "documents_tag", []string{"id", "name", "color"}, n, func(i int) ([]any, error) {
		color := "#808080"
		if g.pct(70) {
			color = fmt.Sprintf("#%06x", g.f.Uint32()&0xffffff)
		}
		if i < len(specialTags) {
			return []any{int32(start) + int32(i), specialTags[i], color}, nil
		}
		name := fmt.Sprintf("%s-%d", g.f.HipsterWord(), i)
		if g.pct(10) {
			name = fmt.Sprintf("%s %d", pick(g, unicodeSamples), i)
		}
		return []any{int32(start) + int32(i), name, color}, nil
	})
}
