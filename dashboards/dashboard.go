// Package dashboards defines sluice's Grafana dashboards and writes them as
// the JSON Grafana provisions (dashboards/json, `go generate ./dashboards`).
//
// Every panel that asks a question of the query library (storage/queries,
// the same queries as `sluice query`) gets its SQL from queries.Grafana:
// the library's query rendered with the macros of Grafana's ClickHouse
// plugin (grafana-clickhouse-datasource 4.x) for the dashboard's range,
// the panel's interval and the dashboard's variables. A query fixed in the
// library is fixed in the CLI and on every dashboard at the next generate;
// a test fails while the committed JSON is stale.
package dashboards

//go:generate go run ./gen

// The provisioned data sources (provisioning/datasources/sluice.yaml):
// every panel and variable refers to one of them by uid.
const (
	ClickHouseUID  = "sluice-clickhouse"
	ClickHouseType = "grafana-clickhouse-datasource"
	PrometheusUID  = "sluice-prometheus"
	PrometheusType = "prometheus"
)

// SchemaVersion is the dashboard schema version the JSON is written at:
// the one of the Grafana Foundation SDK the tests validate against
// (github.com/grafana/grafana-foundation-sdk/go v0.0.22, dashboard.NewDashboard).
const SchemaVersion = 42

// Dashboard is a Grafana dashboard, as its JSON model.
type Dashboard struct {
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	Description   string      `json:"description,omitempty"`
	Tags          []string    `json:"tags"`
	Timezone      string      `json:"timezone"`
	Editable      bool        `json:"editable"`
	GraphTooltip  int         `json:"graphTooltip"`
	SchemaVersion int         `json:"schemaVersion"`
	Version       int         `json:"version"`
	Refresh       string      `json:"refresh,omitempty"`
	Time          TimeRange   `json:"time"`
	Templating    Templating  `json:"templating"`
	Annotations   Annotations `json:"annotations"`
	Links         []Link      `json:"links"`
	Panels        []*Panel    `json:"panels"`
}

// TimeRange is the dashboard's default range.
type TimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Templating holds the dashboard's variables.
type Templating struct {
	List []Variable `json:"list"`
}

// Annotations holds the dashboard's annotation queries (none).
type Annotations struct {
	List []any `json:"list"`
}

// Link is a link in the dashboard's header: to the other sluice dashboards.
type Link struct {
	Title       string   `json:"title"`
	Type        string   `json:"type"`
	Tags        []string `json:"tags"`
	AsDropdown  bool     `json:"asDropdown"`
	IncludeVars bool     `json:"includeVars"`
	KeepTime    bool     `json:"keepTime"`
	TargetBlank bool     `json:"targetBlank"`
	Icon        string   `json:"icon"`
	Tooltip     string   `json:"tooltip"`
	URL         string   `json:"url"`
}

// DataSourceRef names a provisioned data source.
type DataSourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Variable is a dashboard variable.
type Variable struct {
	Name        string         `json:"name"`
	Label       string         `json:"label,omitempty"`
	Type        string         `json:"type"` // query, custom, textbox
	Description string         `json:"description,omitempty"`
	Datasource  *DataSourceRef `json:"datasource,omitempty"`
	Query       any            `json:"query"`
	Definition  string         `json:"definition,omitempty"`
	Refresh     int            `json:"refresh,omitempty"` // 2: on time range change
	Multi       bool           `json:"multi"`
	IncludeAll  bool           `json:"includeAll"`
	Current     map[string]any `json:"current"`
	Options     []VariableOpt  `json:"options"`
	Sort        int            `json:"sort,omitempty"`
	Hide        int            `json:"hide,omitempty"`
}

// VariableOpt is an option of a custom variable.
type VariableOpt struct {
	Selected bool   `json:"selected"`
	Text     string `json:"text"`
	Value    string `json:"value"`
}

// Panel is a dashboard panel.
type Panel struct {
	ID              int              `json:"id"`
	Type            string           `json:"type"`
	Title           string           `json:"title"`
	Description     string           `json:"description,omitempty"`
	GridPos         GridPos          `json:"gridPos"`
	Datasource      *DataSourceRef   `json:"datasource,omitempty"`
	Targets         []Target         `json:"targets,omitempty"`
	FieldConfig     FieldConfig      `json:"fieldConfig"`
	Options         map[string]any   `json:"options"`
	Transformations []Transformation `json:"transformations,omitempty"`
	MaxDataPoints   int              `json:"maxDataPoints,omitempty"`
}

// GridPos places a panel on the 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Target is a panel's query: SQL for the ClickHouse plugin, PromQL for
// Prometheus.
type Target struct {
	RefID      string         `json:"refId"`
	Datasource *DataSourceRef `json:"datasource"`
	// ClickHouse plugin 4.x: the SQL editor, format 1 table, 0 time series.
	EditorType string `json:"editorType,omitempty"`
	QueryType  string `json:"queryType,omitempty"`
	Format     *int   `json:"format,omitempty"`
	RawSQL     string `json:"rawSql,omitempty"`
	// Prometheus.
	Expr         string `json:"expr,omitempty"`
	LegendFormat string `json:"legendFormat,omitempty"`
	Range        bool   `json:"range,omitempty"`
}

// FieldConfig sets the fields' units and overrides.
type FieldConfig struct {
	Defaults  FieldDefaults `json:"defaults"`
	Overrides []Override    `json:"overrides"`
}

// FieldDefaults are the settings of every field.
type FieldDefaults struct {
	Unit     string         `json:"unit,omitempty"`
	Decimals *int           `json:"decimals,omitempty"`
	Custom   map[string]any `json:"custom,omitempty"`
	Links    []DataLink     `json:"links,omitempty"`
}

// Override changes settings of the fields a matcher selects.
type Override struct {
	Matcher    Matcher         `json:"matcher"`
	Properties []OverrideValue `json:"properties"`
}

// Matcher selects fields.
type Matcher struct {
	ID      string `json:"id"`
	Options string `json:"options"`
}

// OverrideValue is one overridden setting.
type OverrideValue struct {
	ID    string `json:"id"`
	Value any    `json:"value"`
}

// DataLink is a link from a value.
type DataLink struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Transformation is a panel data transformation.
type Transformation struct {
	ID      string         `json:"id"`
	Options map[string]any `json:"options"`
}
