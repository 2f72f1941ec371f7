package edmsgen

import "time"

// Unicode fragments that real EDMS data carries: emoji with ZWJ sequences and modifiers, RTL
// scripts, combining marks, CJK, and others. Mixed into titles, names and tags.
var unicodeSamples = []string{
	"👩‍💻 Entwicklerin",                    // ZWJ sequence
	"👨‍👩‍👧‍👦 Familie",                     // long ZWJ family
	"🏳️‍🌈 Richtlinie",                     // flag with variation selector + ZWJ
	"👍🏽 freigegeben",                      // skin tone modifier
	"عقد الإيجار السنوي",                  // Arabic (RTL)
	"חוזה עבודה",                          // Hebrew (RTL)
	"Re\u0301sume\u0301 cafe\u0301",       // combining acute accents (NFD)
	"Z\u0335\u0321a\u0337l\u0336g\u0338o", // stacked combining marks
	"契約書の写し",                              // Japanese
	"质量管理体系文件",                            // Chinese
	"품질 보증 절차",                            // Korean
	"Σύμβαση προμήθειας",                  // Greek
	"Договор поставки",                    // Cyrillic
	"अनुबंध दस्तावेज़",                    // Devanagari
	"สัญญาเช่า",                           // Thai
	"mixed עברית and English",             // bidi mix
	"\u202Eevil override\u202C",           // bidi override characters
	"zero\u200Bwidth\u200Djoiner",         // zero-width space and joiner
	"𝕯𝖔𝖈𝖚𝖒𝖊𝖓𝖙 𝔊𝔬𝔱𝔥𝔦𝔠",                     // astral plane letters
	"Straße Œuvre Ærø",                    // Latin ligatures
}

// Text that trips COPY text-format escaping and naive CSV: the literal two characters \N (COPY's
// NULL marker), tabs, newlines, carriage returns, backslashes and quotes.
const literalBackslashN = `\N`

var escapeSamples = []string{
	literalBackslashN,
	"tab\there\tand\tthere",
	"line one\nline two\n",
	"crlf\r\nline",
	`C:\new\table\file.txt`,
	`back\\slash \. end`,
	"quote \" and ' and `",
	"comma, semicolon; pipe | done",
	" leading and trailing spaces ",
}

// oddMetadata is document metadata with keys and values that break naive JSON handling:
// the empty key, quotes, backslashes, unicode keys, nested arrays, nulls, and a number that
// does not fit an int64 or float64 exactly.
const oddMetadata = `{"": "empty key", "quo\"te": "q\"v", "back\\slash": "C:\\new\\table", ` +
	`"ключ 🔑": "значение", "\u00e9t\u00e9": true, "tab\tkey": "line\nbreak", ` +
	`"nested": [[1, [2, null]], [], {"deep": [{"deeper": [null, false, 0]}]}], ` +
	`"null": null, "big": 12345678901234567890.5, "neg": -0.000000000000000001, ` +
	`"int": 9223372036854775808, "backslash_n": "\\N"}`

// The time zones edge-case timestamps are written in. Fixed offsets (not the tz database) so the
// instants never depend on the machine's zoneinfo.
var edgeZones = []*time.Location{
	time.FixedZone("Asia/Kolkata", 5*3600+30*60),
	time.FixedZone("America/St_Johns", -(3*3600 + 30*60)),
	time.FixedZone("Pacific/Chatham", 12*3600+45*60),
	time.UTC,
}

// EdgeZoneTimes returns the instants, one per edge zone, at which edge-case documents were
// created: 2024-01-15 09:00:00 local time in each zone.
func EdgeZoneTimes() []time.Time {
	out := make([]time.Time, len(edgeZones))
	for i, loc := range edgeZones {
		out[i] = time.Date(2024, time.January, 15, 9, 0, 0, 0, loc)
	}
	return out
}

// Names the edge cases use, exported so tests can find them.
const (
	// BulkUsername is the user that thousands of rows reference.
	BulkUsername = "bulk"
	// DeepChainRoot is the name of the root of the deep folder chain.
	DeepChainRoot = "deep ⤵ chain"
	// DeepChainDepth is the number of folders in the deep chain, root included.
	DeepChainDepth = 34
	// SharedFolderName is a folder name used by siblings under several parents.
	SharedFolderName = "Archive"
)

// Workflow shapes.
var (
	workflowTypes = []string{"review", "approval", "publication", "retention", "translation"}
	states        = []string{"draft", "in_review", "changes_requested", "approved", "published", "archived", "rejected"}
	// next states per state index, for transitions.
	stateNext = map[string][]string{
		"draft":             {"in_review"},
		"in_review":         {"approved", "changes_requested", "rejected"},
		"changes_requested": {"draft", "in_review"},
		"approved":          {"published", "archived"},
		"published":         {"archived"},
		"archived":          {},
		"rejected":          {"draft"},
	}
	signatureMeanings = []string{"authored", "reviewed", "approved", "released"}
	auditActions      = []string{"view", "download", "update", "share", "print", "export"}
	mimeTypes         = []string{"text/plain", "application/pdf", "image/png", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
)
