CREATE DATABASE IF NOT EXISTS sluice ON CLUSTER `sluice_cluster`;

CREATE TABLE IF NOT EXISTS sluice.schema_migrations ON CLUSTER `sluice_cluster`
(
    `version` UInt32 COMMENT 'schema version',
    `description` String COMMENT 'what the version changed',
    `applied_at` DateTime DEFAULT now() COMMENT 'when it was first applied'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/sluice/schema_migrations', '{replica}')
ORDER BY version
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS sluice.flows_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'when the collector received the datagram' CODEC(LZ4),
    `TimeFlowStart` DateTime64(3) COMMENT 'first packet of the flow (0 when not exported)' CODEC(LZ4),
    `TimeFlowEnd` DateTime64(3) COMMENT 'last packet of the flow (0 when not exported)' CODEC(LZ4),
    `FlowType` Enum8('Unknown' = 0, 'NetFlowV5' = 1, 'NetFlowV9' = 2, 'IPFIX' = 3, 'SFlowV5' = 4) COMMENT 'export protocol',
    `ExporterAddress` IPv6 COMMENT 'exporter\'s address (IPv4 mapped)',
    `ObservationDomainID` UInt32 COMMENT 'NetFlow v9 source ID, IPFIX observation domain, sFlow sub-agent',
    `SamplerID` UInt64 COMMENT 'sampler ID the sampling rate came from',
    `SamplingRate` UInt64 COMMENT '1 in N packets sampled; Bytes and Packets are not scaled',
    `SrcAddr` IPv6 COMMENT 'source address (IPv4 mapped)',
    `DstAddr` IPv6 COMMENT 'destination address (IPv4 mapped)',
    `SrcNetMask` UInt8 COMMENT 'source prefix length',
    `DstNetMask` UInt8 COMMENT 'destination prefix length',
    `SrcAS` UInt32 COMMENT 'source AS number',
    `DstAS` UInt32 COMMENT 'destination AS number',
    `NextHop` IPv6 COMMENT 'IP next hop',
    `BGPNextHop` IPv6 COMMENT 'BGP next hop',
    `SrcPort` UInt16 COMMENT 'source transport port',
    `DstPort` UInt16 COMMENT 'destination transport port',
    `Proto` UInt8 COMMENT 'IP protocol number',
    `EType` UInt16 COMMENT 'Ethernet type: 2048 IPv4, 34525 IPv6',
    `TCPFlags` UInt16 COMMENT 'OR of the TCP flags seen',
    `IPTos` UInt8 COMMENT 'IP type of service / traffic class',
    `IPTTL` UInt8 COMMENT 'IP TTL / hop limit',
    `IPv6FlowLabel` UInt32 COMMENT 'IPv6 flow label',
    `IPFragmentID` UInt32 COMMENT 'IP fragment identification',
    `IPFragmentOffset` UInt16 COMMENT 'IP fragment offset',
    `ICMPType` UInt8 COMMENT 'ICMP or ICMPv6 type (see EType)',
    `ICMPCode` UInt8 COMMENT 'ICMP or ICMPv6 code',
    `InIfIndex` UInt32 COMMENT 'input interface SNMP index',
    `OutIfIndex` UInt32 COMMENT 'output interface SNMP index',
    `SrcVlan` UInt16 COMMENT 'source (ingress) VLAN',
    `DstVlan` UInt16 COMMENT 'destination (egress) VLAN',
    `SrcMAC` UInt64 COMMENT 'source MAC, 48 bits',
    `DstMAC` UInt64 COMMENT 'destination MAC, 48 bits',
    `ForwardingStatus` UInt8 COMMENT 'forwarding status (RFC 7270): 64 forwarded, 128 dropped, 192 consumed',
    `FlowDirection` UInt8 COMMENT '0 unknown, 1 ingress, 2 egress',
    `Bytes` UInt64 COMMENT 'bytes as exported (multiply by SamplingRate to estimate)',
    `Packets` UInt64 COMMENT 'packets as exported (multiply by SamplingRate to estimate)',
    `MPLS1stLabel` UInt32 COMMENT 'first (top) MPLS label value, 20 bits',
    `MPLS2ndLabel` UInt32 COMMENT 'second MPLS label value',
    `MPLS3rdLabel` UInt32 COMMENT 'third MPLS label value',
    `IngressVRFID` UInt32 COMMENT 'ingress VRF ID (IPFIX IE 234)',
    `EgressVRFID` UInt32 COMMENT 'egress VRF ID (IPFIX IE 235)',
    `SrcAddrNAT` IPv6 COMMENT 'source address after NAT (IPv4 mapped)',
    `DstAddrNAT` IPv6 COMMENT 'destination address after NAT (IPv4 mapped)',
    `SrcPortNAT` UInt16 COMMENT 'source port after NAPT',
    `DstPortNAT` UInt16 COMMENT 'destination port after NAPT',
    `ExporterName` LowCardinality(String) COMMENT 'exporter\'s name (configuration, else SNMP sysName)',
    `ExporterGroup` LowCardinality(String) COMMENT 'exporter\'s group',
    `ExporterRole` LowCardinality(String) COMMENT 'exporter\'s role',
    `ExporterSite` LowCardinality(String) COMMENT 'exporter\'s site',
    `ExporterRegion` LowCardinality(String) COMMENT 'exporter\'s region',
    `ExporterTenant` LowCardinality(String) COMMENT 'exporter\'s tenant',
    `SrcNetName` LowCardinality(String) COMMENT 'name of the configured network holding SrcAddr',
    `DstNetName` LowCardinality(String) COMMENT 'name of the configured network holding DstAddr',
    `SrcNetRole` LowCardinality(String) COMMENT 'role of the source network',
    `DstNetRole` LowCardinality(String) COMMENT 'role of the destination network',
    `SrcNetSite` LowCardinality(String) COMMENT 'site of the source network',
    `DstNetSite` LowCardinality(String) COMMENT 'site of the destination network',
    `SrcNetRegion` LowCardinality(String) COMMENT 'region of the source network',
    `DstNetRegion` LowCardinality(String) COMMENT 'region of the destination network',
    `SrcNetTenant` LowCardinality(String) COMMENT 'tenant of the source network',
    `DstNetTenant` LowCardinality(String) COMMENT 'tenant of the destination network',
    `SrcCountry` LowCardinality(String) COMMENT 'source country, ISO 3166-1 alpha-2 (GeoIP)',
    `DstCountry` LowCardinality(String) COMMENT 'destination country, ISO 3166-1 alpha-2 (GeoIP)',
    `SrcGeoCity` LowCardinality(String) COMMENT 'source city (GeoIP)',
    `DstGeoCity` LowCardinality(String) COMMENT 'destination city (GeoIP)',
    `SrcASName` LowCardinality(String) COMMENT 'source AS organisation (ASN database)',
    `DstASName` LowCardinality(String) COMMENT 'destination AS organisation (ASN database)',
    `InIfName` LowCardinality(String) COMMENT 'input interface name',
    `OutIfName` LowCardinality(String) COMMENT 'output interface name',
    `InIfDescription` LowCardinality(String) COMMENT 'input interface description',
    `OutIfDescription` LowCardinality(String) COMMENT 'output interface description',
    `InIfSpeed` UInt64 COMMENT 'input interface speed in bits per second (0 unknown)',
    `OutIfSpeed` UInt64 COMMENT 'output interface speed in bits per second (0 unknown)',
    `InIfBoundary` Enum8('undefined' = 0, 'external' = 1, 'internal' = 2) COMMENT 'whether the input interface faces outside the network',
    `OutIfBoundary` Enum8('undefined' = 0, 'external' = 1, 'internal' = 2) COMMENT 'whether the output interface faces outside the network',
    `InIfProvider` LowCardinality(String) COMMENT 'provider behind the input interface',
    `OutIfProvider` LowCardinality(String) COMMENT 'provider behind the output interface',
    `InIfConnectivity` LowCardinality(String) COMMENT 'input interface connectivity (transit, peering, ...)',
    `OutIfConnectivity` LowCardinality(String) COMMENT 'output interface connectivity',
    `SrcThreatFeeds` Array(LowCardinality(String)) COMMENT 'names of the threat-intelligence feeds listing SrcAddr',
    `DstThreatFeeds` Array(LowCardinality(String)) COMMENT 'names of the threat-intelligence feeds listing DstAddr',
    `ServiceName` LowCardinality(String) COMMENT 'service by protocol and port',
    `TrafficDirection` Enum8('unknown' = 0, 'inbound' = 1, 'outbound' = 2, 'internal' = 3, 'transit' = 4) COMMENT 'direction relative to the configured own networks',
    `CommunityID` String COMMENT 'Community ID v1 of the flow' CODEC(ZSTD(1)),
    `FirewallEvent` UInt8 COMMENT 'firewall event (IPFIX IE 233, NSEL 40005): 1 created, 2 deleted, 3 denied, 4 alert, 5 update; 0 none',
    `FirewallExtEvent` UInt16 COMMENT 'NSEL extended event code (IE 33002), e.g. why a flow was denied or torn down',
    `IngressACL` UInt32 COMMENT 'NSEL ingress ACL (hash or ID of its name), from IE 33000',
    `IngressACE` UInt32 COMMENT 'NSEL ingress ACE within the ACL (hash, ID or line), from IE 33000',
    `IngressACEExt` UInt32 COMMENT 'NSEL ingress extended ACE configuration (hash or ID), from IE 33000',
    `EgressACL` UInt32 COMMENT 'NSEL egress ACL (hash or ID of its name), from IE 33001',
    `EgressACE` UInt32 COMMENT 'NSEL egress ACE within the ACL (hash, ID or line), from IE 33001',
    `EgressACEExt` UInt32 COMMENT 'NSEL egress extended ACE configuration (hash or ID), from IE 33001'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/sluice/flows_local', '{replica}')
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (toStartOfFiveMinutes(TimeReceived), ExporterAddress, TimeReceived)
TTL TimeReceived + toIntervalSecond(1296000)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice raw flow records, one row per exported flow';

CREATE TABLE IF NOT EXISTS sluice.flows ON CLUSTER `sluice_cluster` AS sluice.flows_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_local, cityHash64(ExporterAddress));

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-1', async_insert = 0 VALUES (1, 'create flows table');

CREATE TABLE IF NOT EXISTS sluice.flows_1m_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'start of the 1m0s bucket' CODEC(DoubleDelta, LZ4),
    `ExporterAddress` IPv6,
    `FlowType` Enum8('Unknown' = 0, 'NetFlowV5' = 1, 'NetFlowV9' = 2, 'IPFIX' = 3, 'SFlowV5' = 4),
    `InIfIndex` UInt32,
    `OutIfIndex` UInt32,
    `SrcAS` UInt32,
    `DstAS` UInt32,
    `Proto` UInt8,
    `EType` UInt16,
    `FlowDirection` UInt8,
    `ForwardingStatus` UInt8,
    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'flow records'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_1m_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus)
TTL TimeReceived + toIntervalSecond(604800)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice flows aggregated per 1m0s';

CREATE TABLE IF NOT EXISTS sluice.flows_1m ON CLUSTER `sluice_cluster` AS sluice.flows_1m_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_1m_local, cityHash64(ExporterAddress));

INSERT INTO sluice.flows_1m SETTINGS async_insert = 0 SELECT * FROM (SELECT toStartOfMinute(TimeReceived) AS TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows GROUP BY TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus) WHERE (SELECT count() FROM sluice.flows_1m) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_1m_mv ON CLUSTER `sluice_cluster` TO sluice.flows_1m_local AS SELECT toStartOfMinute(TimeReceived) AS TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows_local GROUP BY TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus;

CREATE TABLE IF NOT EXISTS sluice.flows_5m_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'start of the 5m0s bucket' CODEC(DoubleDelta, LZ4),
    `ExporterAddress` IPv6,
    `FlowType` Enum8('Unknown' = 0, 'NetFlowV5' = 1, 'NetFlowV9' = 2, 'IPFIX' = 3, 'SFlowV5' = 4),
    `InIfIndex` UInt32,
    `OutIfIndex` UInt32,
    `SrcAS` UInt32,
    `DstAS` UInt32,
    `Proto` UInt8,
    `EType` UInt16,
    `FlowDirection` UInt8,
    `ForwardingStatus` UInt8,
    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'flow records'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_5m_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus)
TTL TimeReceived + toIntervalSecond(7776000)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice flows aggregated per 5m0s';

CREATE TABLE IF NOT EXISTS sluice.flows_5m ON CLUSTER `sluice_cluster` AS sluice.flows_5m_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_5m_local, cityHash64(ExporterAddress));

INSERT INTO sluice.flows_5m SETTINGS async_insert = 0 SELECT * FROM (SELECT toStartOfFiveMinutes(TimeReceived) AS TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows GROUP BY TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus) WHERE (SELECT count() FROM sluice.flows_5m) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_5m_mv ON CLUSTER `sluice_cluster` TO sluice.flows_5m_local AS SELECT toStartOfFiveMinutes(TimeReceived) AS TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows_local GROUP BY TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus;

CREATE TABLE IF NOT EXISTS sluice.flows_1h_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'start of the 1h0m0s bucket' CODEC(DoubleDelta, LZ4),
    `ExporterAddress` IPv6,
    `FlowType` Enum8('Unknown' = 0, 'NetFlowV5' = 1, 'NetFlowV9' = 2, 'IPFIX' = 3, 'SFlowV5' = 4),
    `InIfIndex` UInt32,
    `OutIfIndex` UInt32,
    `SrcAS` UInt32,
    `DstAS` UInt32,
    `Proto` UInt8,
    `EType` UInt16,
    `FlowDirection` UInt8,
    `ForwardingStatus` UInt8,
    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'flow records'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_1h_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMM(TimeReceived)
ORDER BY (TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus)
TTL TimeReceived + toIntervalSecond(31536000)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice flows aggregated per 1h0m0s';

CREATE TABLE IF NOT EXISTS sluice.flows_1h ON CLUSTER `sluice_cluster` AS sluice.flows_1h_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_1h_local, cityHash64(ExporterAddress));

INSERT INTO sluice.flows_1h SETTINGS async_insert = 0 SELECT * FROM (SELECT toStartOfHour(TimeReceived) AS TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows GROUP BY TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus) WHERE (SELECT count() FROM sluice.flows_1h) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_1h_mv ON CLUSTER `sluice_cluster` TO sluice.flows_1h_local AS SELECT toStartOfHour(TimeReceived) AS TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows_local GROUP BY TimeReceived, ExporterAddress, FlowType, InIfIndex, OutIfIndex, SrcAS, DstAS, Proto, EType, FlowDirection, ForwardingStatus;

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-2', async_insert = 0 VALUES (2, 'create 1m, 5m and 1h rollups');

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD INDEX IF NOT EXISTS idx_SrcAddr SrcAddr TYPE bloom_filter(0.01) GRANULARITY 4;

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD INDEX IF NOT EXISTS idx_DstAddr DstAddr TYPE bloom_filter(0.01) GRANULARITY 4;

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD INDEX IF NOT EXISTS idx_SrcAS SrcAS TYPE bloom_filter(0.01) GRANULARITY 4;

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD INDEX IF NOT EXISTS idx_DstAS DstAS TYPE bloom_filter(0.01) GRANULARITY 4;

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD INDEX IF NOT EXISTS idx_SrcPort SrcPort TYPE bloom_filter(0.01) GRANULARITY 4;

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD INDEX IF NOT EXISTS idx_DstPort DstPort TYPE bloom_filter(0.01) GRANULARITY 4;

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD INDEX IF NOT EXISTS idx_TimeFlowStart TimeFlowStart TYPE minmax GRANULARITY 1;

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-3', async_insert = 0 VALUES (3, 'add skip indexes on addresses, AS numbers and ports');

CREATE TABLE IF NOT EXISTS sluice.protocols ON CLUSTER `sluice_cluster` (Proto UInt64, Name String, Description String) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/sluice/protocols', '{replica}') ORDER BY (Proto) COMMENT 'IP protocol numbers and names';

CREATE DICTIONARY IF NOT EXISTS sluice.protocols_dict ON CLUSTER `sluice_cluster` (Proto UInt64, Name String, Description String) PRIMARY KEY Proto SOURCE(CLICKHOUSE(DB 'sluice' TABLE 'protocols')) LAYOUT(FLAT()) LIFETIME(MIN 300 MAX 600);

CREATE TABLE IF NOT EXISTS sluice.services ON CLUSTER `sluice_cluster` (Proto UInt8, Port UInt16, Name String) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/sluice/services', '{replica}') ORDER BY (Proto, Port) COMMENT 'well-known ports: protocol number, port, service name';

CREATE DICTIONARY IF NOT EXISTS sluice.services_dict ON CLUSTER `sluice_cluster` (Proto UInt8, Port UInt16, Name String) PRIMARY KEY Proto, Port SOURCE(CLICKHOUSE(DB 'sluice' TABLE 'services')) LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(MIN 300 MAX 600);

CREATE TABLE IF NOT EXISTS sluice.icmp_types ON CLUSTER `sluice_cluster` (EType UInt16, Type UInt8, Name String) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/sluice/icmp_types', '{replica}') ORDER BY (EType, Type) COMMENT 'ICMP (EType 2048) and ICMPv6 (EType 34525) type names';

CREATE DICTIONARY IF NOT EXISTS sluice.icmp_types_dict ON CLUSTER `sluice_cluster` (EType UInt16, Type UInt8, Name String) PRIMARY KEY EType, Type SOURCE(CLICKHOUSE(DB 'sluice' TABLE 'icmp_types')) LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(MIN 300 MAX 600);

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-4', async_insert = 0 VALUES (4, 'create reference tables and dictionaries: protocols, services, ICMP types');

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `MPLS1stLabel` UInt32 COMMENT 'first (top) MPLS label value, 20 bits';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `MPLS2ndLabel` UInt32 COMMENT 'second MPLS label value';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `MPLS3rdLabel` UInt32 COMMENT 'third MPLS label value';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `IngressVRFID` UInt32 COMMENT 'ingress VRF ID (IPFIX IE 234)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `EgressVRFID` UInt32 COMMENT 'egress VRF ID (IPFIX IE 235)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcAddrNAT` IPv6 COMMENT 'source address after NAT (IPv4 mapped)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstAddrNAT` IPv6 COMMENT 'destination address after NAT (IPv4 mapped)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcPortNAT` UInt16 COMMENT 'source port after NAPT';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstPortNAT` UInt16 COMMENT 'destination port after NAPT';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `MPLS1stLabel` UInt32 COMMENT 'first (top) MPLS label value, 20 bits';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `MPLS2ndLabel` UInt32 COMMENT 'second MPLS label value';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `MPLS3rdLabel` UInt32 COMMENT 'third MPLS label value';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `IngressVRFID` UInt32 COMMENT 'ingress VRF ID (IPFIX IE 234)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `EgressVRFID` UInt32 COMMENT 'egress VRF ID (IPFIX IE 235)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcAddrNAT` IPv6 COMMENT 'source address after NAT (IPv4 mapped)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstAddrNAT` IPv6 COMMENT 'destination address after NAT (IPv4 mapped)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcPortNAT` UInt16 COMMENT 'source port after NAPT';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstPortNAT` UInt16 COMMENT 'destination port after NAPT';

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-5', async_insert = 0 VALUES (5, 'add MPLS label, VRF and NAT columns');

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ExporterName` LowCardinality(String) COMMENT 'exporter\'s name (configuration, else SNMP sysName)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ExporterGroup` LowCardinality(String) COMMENT 'exporter\'s group';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ExporterRole` LowCardinality(String) COMMENT 'exporter\'s role';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ExporterSite` LowCardinality(String) COMMENT 'exporter\'s site';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ExporterRegion` LowCardinality(String) COMMENT 'exporter\'s region';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ExporterTenant` LowCardinality(String) COMMENT 'exporter\'s tenant';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcNetName` LowCardinality(String) COMMENT 'name of the configured network holding SrcAddr';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstNetName` LowCardinality(String) COMMENT 'name of the configured network holding DstAddr';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcNetRole` LowCardinality(String) COMMENT 'role of the source network';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstNetRole` LowCardinality(String) COMMENT 'role of the destination network';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcNetSite` LowCardinality(String) COMMENT 'site of the source network';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstNetSite` LowCardinality(String) COMMENT 'site of the destination network';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcNetRegion` LowCardinality(String) COMMENT 'region of the source network';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstNetRegion` LowCardinality(String) COMMENT 'region of the destination network';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcNetTenant` LowCardinality(String) COMMENT 'tenant of the source network';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstNetTenant` LowCardinality(String) COMMENT 'tenant of the destination network';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcCountry` LowCardinality(String) COMMENT 'source country, ISO 3166-1 alpha-2 (GeoIP)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstCountry` LowCardinality(String) COMMENT 'destination country, ISO 3166-1 alpha-2 (GeoIP)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcGeoCity` LowCardinality(String) COMMENT 'source city (GeoIP)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstGeoCity` LowCardinality(String) COMMENT 'destination city (GeoIP)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcASName` LowCardinality(String) COMMENT 'source AS organisation (ASN database)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstASName` LowCardinality(String) COMMENT 'destination AS organisation (ASN database)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `InIfName` LowCardinality(String) COMMENT 'input interface name';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `OutIfName` LowCardinality(String) COMMENT 'output interface name';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `InIfDescription` LowCardinality(String) COMMENT 'input interface description';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `OutIfDescription` LowCardinality(String) COMMENT 'output interface description';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `InIfSpeed` UInt64 COMMENT 'input interface speed in bits per second (0 unknown)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `OutIfSpeed` UInt64 COMMENT 'output interface speed in bits per second (0 unknown)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `InIfBoundary` Enum8('undefined' = 0, 'external' = 1, 'internal' = 2) COMMENT 'whether the input interface faces outside the network';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `OutIfBoundary` Enum8('undefined' = 0, 'external' = 1, 'internal' = 2) COMMENT 'whether the output interface faces outside the network';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `InIfProvider` LowCardinality(String) COMMENT 'provider behind the input interface';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `OutIfProvider` LowCardinality(String) COMMENT 'provider behind the output interface';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `InIfConnectivity` LowCardinality(String) COMMENT 'input interface connectivity (transit, peering, ...)';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `OutIfConnectivity` LowCardinality(String) COMMENT 'output interface connectivity';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcThreatFeeds` Array(LowCardinality(String)) COMMENT 'names of the threat-intelligence feeds listing SrcAddr';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstThreatFeeds` Array(LowCardinality(String)) COMMENT 'names of the threat-intelligence feeds listing DstAddr';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ServiceName` LowCardinality(String) COMMENT 'service by protocol and port';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `TrafficDirection` Enum8('unknown' = 0, 'inbound' = 1, 'outbound' = 2, 'internal' = 3, 'transit' = 4) COMMENT 'direction relative to the configured own networks';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `CommunityID` String COMMENT 'Community ID v1 of the flow' CODEC(ZSTD(1));

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ExporterName` LowCardinality(String) COMMENT 'exporter\'s name (configuration, else SNMP sysName)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ExporterGroup` LowCardinality(String) COMMENT 'exporter\'s group';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ExporterRole` LowCardinality(String) COMMENT 'exporter\'s role';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ExporterSite` LowCardinality(String) COMMENT 'exporter\'s site';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ExporterRegion` LowCardinality(String) COMMENT 'exporter\'s region';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ExporterTenant` LowCardinality(String) COMMENT 'exporter\'s tenant';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcNetName` LowCardinality(String) COMMENT 'name of the configured network holding SrcAddr';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstNetName` LowCardinality(String) COMMENT 'name of the configured network holding DstAddr';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcNetRole` LowCardinality(String) COMMENT 'role of the source network';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstNetRole` LowCardinality(String) COMMENT 'role of the destination network';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcNetSite` LowCardinality(String) COMMENT 'site of the source network';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstNetSite` LowCardinality(String) COMMENT 'site of the destination network';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcNetRegion` LowCardinality(String) COMMENT 'region of the source network';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstNetRegion` LowCardinality(String) COMMENT 'region of the destination network';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcNetTenant` LowCardinality(String) COMMENT 'tenant of the source network';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstNetTenant` LowCardinality(String) COMMENT 'tenant of the destination network';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcCountry` LowCardinality(String) COMMENT 'source country, ISO 3166-1 alpha-2 (GeoIP)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstCountry` LowCardinality(String) COMMENT 'destination country, ISO 3166-1 alpha-2 (GeoIP)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcGeoCity` LowCardinality(String) COMMENT 'source city (GeoIP)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstGeoCity` LowCardinality(String) COMMENT 'destination city (GeoIP)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcASName` LowCardinality(String) COMMENT 'source AS organisation (ASN database)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstASName` LowCardinality(String) COMMENT 'destination AS organisation (ASN database)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `InIfName` LowCardinality(String) COMMENT 'input interface name';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `OutIfName` LowCardinality(String) COMMENT 'output interface name';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `InIfDescription` LowCardinality(String) COMMENT 'input interface description';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `OutIfDescription` LowCardinality(String) COMMENT 'output interface description';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `InIfSpeed` UInt64 COMMENT 'input interface speed in bits per second (0 unknown)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `OutIfSpeed` UInt64 COMMENT 'output interface speed in bits per second (0 unknown)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `InIfBoundary` Enum8('undefined' = 0, 'external' = 1, 'internal' = 2) COMMENT 'whether the input interface faces outside the network';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `OutIfBoundary` Enum8('undefined' = 0, 'external' = 1, 'internal' = 2) COMMENT 'whether the output interface faces outside the network';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `InIfProvider` LowCardinality(String) COMMENT 'provider behind the input interface';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `OutIfProvider` LowCardinality(String) COMMENT 'provider behind the output interface';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `InIfConnectivity` LowCardinality(String) COMMENT 'input interface connectivity (transit, peering, ...)';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `OutIfConnectivity` LowCardinality(String) COMMENT 'output interface connectivity';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `SrcThreatFeeds` Array(LowCardinality(String)) COMMENT 'names of the threat-intelligence feeds listing SrcAddr';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `DstThreatFeeds` Array(LowCardinality(String)) COMMENT 'names of the threat-intelligence feeds listing DstAddr';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ServiceName` LowCardinality(String) COMMENT 'service by protocol and port';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `TrafficDirection` Enum8('unknown' = 0, 'inbound' = 1, 'outbound' = 2, 'internal' = 3, 'transit' = 4) COMMENT 'direction relative to the configured own networks';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `CommunityID` String COMMENT 'Community ID v1 of the flow' CODEC(ZSTD(1));

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-6', async_insert = 0 VALUES (6, 'add enrichment columns: exporter, network, GeoIP, interface, threat feeds, service, direction, Community ID');

CREATE TABLE IF NOT EXISTS sluice.flows_as_1m_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'start of the 1m0s bucket' CODEC(DoubleDelta, LZ4),
    `SrcAS` UInt32,
    `DstAS` UInt32,
    `EType` UInt16,
    `Proto` UInt8,
    `SrcCountry` LowCardinality(String),
    `DstCountry` LowCardinality(String),
    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'flow records'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_as_1m_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (TimeReceived, SrcAS, DstAS, EType, Proto, SrcCountry, DstCountry)
TTL TimeReceived + toIntervalSecond(604800)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice flows aggregated per 1m0s';

CREATE TABLE IF NOT EXISTS sluice.flows_as_1m ON CLUSTER `sluice_cluster` AS sluice.flows_as_1m_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_as_1m_local, cityHash64(SrcAS));

INSERT INTO sluice.flows_as_1m SETTINGS async_insert = 0 SELECT * FROM (SELECT toStartOfMinute(TimeReceived) AS TimeReceived, SrcAS, DstAS, EType, Proto, SrcCountry, DstCountry, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows GROUP BY TimeReceived, SrcAS, DstAS, EType, Proto, SrcCountry, DstCountry) WHERE (SELECT count() FROM sluice.flows_as_1m) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_as_1m_mv ON CLUSTER `sluice_cluster` TO sluice.flows_as_1m_local AS SELECT toStartOfMinute(TimeReceived) AS TimeReceived, SrcAS, DstAS, EType, Proto, SrcCountry, DstCountry, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows_local GROUP BY TimeReceived, SrcAS, DstAS, EType, Proto, SrcCountry, DstCountry;

CREATE TABLE IF NOT EXISTS sluice.flows_as_5m_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'start of the 5m0s bucket' CODEC(DoubleDelta, LZ4),
    `SrcAS` UInt32,
    `DstAS` UInt32,
    `EType` UInt16,
    `Proto` UInt8,
    `SrcCountry` LowCardinality(String),
    `DstCountry` LowCardinality(String),
    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'flow records'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_as_5m_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (TimeReceived, SrcAS, DstAS, EType, Proto, SrcCountry, DstCountry)
TTL TimeReceived + toIntervalSecond(7776000)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice flows aggregated per 5m0s';

CREATE TABLE IF NOT EXISTS sluice.flows_as_5m ON CLUSTER `sluice_cluster` AS sluice.flows_as_5m_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_as_5m_local, cityHash64(SrcAS));

INSERT INTO sluice.flows_as_5m SETTINGS async_insert = 0 SELECT * FROM (SELECT toStartOfFiveMinutes(TimeReceived) AS TimeReceived, SrcAS, DstAS, EType, Proto, SrcCountry, DstCountry, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows GROUP BY TimeReceived, SrcAS, DstAS, EType, Proto, SrcCountry, DstCountry) WHERE (SELECT count() FROM sluice.flows_as_5m) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_as_5m_mv ON CLUSTER `sluice_cluster` TO sluice.flows_as_5m_local AS SELECT toStartOfFiveMinutes(TimeReceived) AS TimeReceived, SrcAS, DstAS, EType, Proto, SrcCountry, DstCountry, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows_local GROUP BY TimeReceived, SrcAS, DstAS, EType, Proto, SrcCountry, DstCountry;

CREATE TABLE IF NOT EXISTS sluice.flows_as_1h_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'start of the 1h0m0s bucket' CODEC(DoubleDelta, LZ4),
    `SrcAS` UInt32,
    `DstAS` UInt32,
    `EType` UInt16,
    `Proto` UInt8,
    `SrcCountry` LowCardinality(String),
    `DstCountry` LowCardinality(String),
    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'flow records'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_as_1h_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMM(TimeReceived)
ORDER BY (TimeReceived, SrcAS, DstAS, EType, Proto, SrcCountry, DstCountry)
TTL TimeReceived + toIntervalSecond(31536000)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice flows aggregated per 1h0m0s';

CREATE TABLE IF NOT EXISTS sluice.flows_as_1h ON CLUSTER `sluice_cluster` AS sluice.flows_as_1h_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_as_1h_local, cityHash64(SrcAS));

INSERT INTO sluice.flows_as_1h SETTINGS async_insert = 0 SELECT * FROM (SELECT toStartOfHour(TimeReceived) AS TimeReceived, SrcAS, DstAS, EType, Proto, SrcCountry, DstCountry, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows GROUP BY TimeReceived, SrcAS, DstAS, EType, Proto, SrcCountry, DstCountry) WHERE (SELECT count() FROM sluice.flows_as_1h) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_as_1h_mv ON CLUSTER `sluice_cluster` TO sluice.flows_as_1h_local AS SELECT toStartOfHour(TimeReceived) AS TimeReceived, SrcAS, DstAS, EType, Proto, SrcCountry, DstCountry, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows_local GROUP BY TimeReceived, SrcAS, DstAS, EType, Proto, SrcCountry, DstCountry;

CREATE TABLE IF NOT EXISTS sluice.flows_if_1m_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'start of the 1m0s bucket' CODEC(DoubleDelta, LZ4),
    `ExporterAddress` IPv6,
    `ExporterName` LowCardinality(String),
    `InIfIndex` UInt32,
    `OutIfIndex` UInt32,
    `InIfName` LowCardinality(String),
    `OutIfName` LowCardinality(String),
    `InIfBoundary` Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
    `OutIfBoundary` Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
    `InIfSpeed` UInt64,
    `OutIfSpeed` UInt64,
    `FlowDirection` UInt8,
    `TrafficDirection` Enum8('unknown' = 0, 'inbound' = 1, 'outbound' = 2, 'internal' = 3, 'transit' = 4),
    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'flow records'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_if_1m_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (TimeReceived, ExporterAddress, ExporterName, InIfIndex, OutIfIndex, InIfName, OutIfName, InIfBoundary, OutIfBoundary, InIfSpeed, OutIfSpeed, FlowDirection, TrafficDirection)
TTL TimeReceived + toIntervalSecond(604800)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice flows aggregated per 1m0s';

CREATE TABLE IF NOT EXISTS sluice.flows_if_1m ON CLUSTER `sluice_cluster` AS sluice.flows_if_1m_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_if_1m_local, cityHash64(ExporterAddress));

INSERT INTO sluice.flows_if_1m SETTINGS async_insert = 0 SELECT * FROM (SELECT toStartOfMinute(TimeReceived) AS TimeReceived, ExporterAddress, ExporterName, InIfIndex, OutIfIndex, InIfName, OutIfName, InIfBoundary, OutIfBoundary, InIfSpeed, OutIfSpeed, FlowDirection, TrafficDirection, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows GROUP BY TimeReceived, ExporterAddress, ExporterName, InIfIndex, OutIfIndex, InIfName, OutIfName, InIfBoundary, OutIfBoundary, InIfSpeed, OutIfSpeed, FlowDirection, TrafficDirection) WHERE (SELECT count() FROM sluice.flows_if_1m) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_if_1m_mv ON CLUSTER `sluice_cluster` TO sluice.flows_if_1m_local AS SELECT toStartOfMinute(TimeReceived) AS TimeReceived, ExporterAddress, ExporterName, InIfIndex, OutIfIndex, InIfName, OutIfName, InIfBoundary, OutIfBoundary, InIfSpeed, OutIfSpeed, FlowDirection, TrafficDirection, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows_local GROUP BY TimeReceived, ExporterAddress, ExporterName, InIfIndex, OutIfIndex, InIfName, OutIfName, InIfBoundary, OutIfBoundary, InIfSpeed, OutIfSpeed, FlowDirection, TrafficDirection;

CREATE TABLE IF NOT EXISTS sluice.flows_if_5m_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'start of the 5m0s bucket' CODEC(DoubleDelta, LZ4),
    `ExporterAddress` IPv6,
    `ExporterName` LowCardinality(String),
    `InIfIndex` UInt32,
    `OutIfIndex` UInt32,
    `InIfName` LowCardinality(String),
    `OutIfName` LowCardinality(String),
    `InIfBoundary` Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
    `OutIfBoundary` Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
    `InIfSpeed` UInt64,
    `OutIfSpeed` UInt64,
    `FlowDirection` UInt8,
    `TrafficDirection` Enum8('unknown' = 0, 'inbound' = 1, 'outbound' = 2, 'internal' = 3, 'transit' = 4),
    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'flow records'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_if_5m_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (TimeReceived, ExporterAddress, ExporterName, InIfIndex, OutIfIndex, InIfName, OutIfName, InIfBoundary, OutIfBoundary, InIfSpeed, OutIfSpeed, FlowDirection, TrafficDirection)
TTL TimeReceived + toIntervalSecond(7776000)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice flows aggregated per 5m0s';

CREATE TABLE IF NOT EXISTS sluice.flows_if_5m ON CLUSTER `sluice_cluster` AS sluice.flows_if_5m_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_if_5m_local, cityHash64(ExporterAddress));

INSERT INTO sluice.flows_if_5m SETTINGS async_insert = 0 SELECT * FROM (SELECT toStartOfFiveMinutes(TimeReceived) AS TimeReceived, ExporterAddress, ExporterName, InIfIndex, OutIfIndex, InIfName, OutIfName, InIfBoundary, OutIfBoundary, InIfSpeed, OutIfSpeed, FlowDirection, TrafficDirection, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows GROUP BY TimeReceived, ExporterAddress, ExporterName, InIfIndex, OutIfIndex, InIfName, OutIfName, InIfBoundary, OutIfBoundary, InIfSpeed, OutIfSpeed, FlowDirection, TrafficDirection) WHERE (SELECT count() FROM sluice.flows_if_5m) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_if_5m_mv ON CLUSTER `sluice_cluster` TO sluice.flows_if_5m_local AS SELECT toStartOfFiveMinutes(TimeReceived) AS TimeReceived, ExporterAddress, ExporterName, InIfIndex, OutIfIndex, InIfName, OutIfName, InIfBoundary, OutIfBoundary, InIfSpeed, OutIfSpeed, FlowDirection, TrafficDirection, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows_local GROUP BY TimeReceived, ExporterAddress, ExporterName, InIfIndex, OutIfIndex, InIfName, OutIfName, InIfBoundary, OutIfBoundary, InIfSpeed, OutIfSpeed, FlowDirection, TrafficDirection;

CREATE TABLE IF NOT EXISTS sluice.flows_if_1h_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'start of the 1h0m0s bucket' CODEC(DoubleDelta, LZ4),
    `ExporterAddress` IPv6,
    `ExporterName` LowCardinality(String),
    `InIfIndex` UInt32,
    `OutIfIndex` UInt32,
    `InIfName` LowCardinality(String),
    `OutIfName` LowCardinality(String),
    `InIfBoundary` Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
    `OutIfBoundary` Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
    `InIfSpeed` UInt64,
    `OutIfSpeed` UInt64,
    `FlowDirection` UInt8,
    `TrafficDirection` Enum8('unknown' = 0, 'inbound' = 1, 'outbound' = 2, 'internal' = 3, 'transit' = 4),
    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'flow records'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_if_1h_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMM(TimeReceived)
ORDER BY (TimeReceived, ExporterAddress, ExporterName, InIfIndex, OutIfIndex, InIfName, OutIfName, InIfBoundary, OutIfBoundary, InIfSpeed, OutIfSpeed, FlowDirection, TrafficDirection)
TTL TimeReceived + toIntervalSecond(31536000)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice flows aggregated per 1h0m0s';

CREATE TABLE IF NOT EXISTS sluice.flows_if_1h ON CLUSTER `sluice_cluster` AS sluice.flows_if_1h_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_if_1h_local, cityHash64(ExporterAddress));

INSERT INTO sluice.flows_if_1h SETTINGS async_insert = 0 SELECT * FROM (SELECT toStartOfHour(TimeReceived) AS TimeReceived, ExporterAddress, ExporterName, InIfIndex, OutIfIndex, InIfName, OutIfName, InIfBoundary, OutIfBoundary, InIfSpeed, OutIfSpeed, FlowDirection, TrafficDirection, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows GROUP BY TimeReceived, ExporterAddress, ExporterName, InIfIndex, OutIfIndex, InIfName, OutIfName, InIfBoundary, OutIfBoundary, InIfSpeed, OutIfSpeed, FlowDirection, TrafficDirection) WHERE (SELECT count() FROM sluice.flows_if_1h) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_if_1h_mv ON CLUSTER `sluice_cluster` TO sluice.flows_if_1h_local AS SELECT toStartOfHour(TimeReceived) AS TimeReceived, ExporterAddress, ExporterName, InIfIndex, OutIfIndex, InIfName, OutIfName, InIfBoundary, OutIfBoundary, InIfSpeed, OutIfSpeed, FlowDirection, TrafficDirection, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows_local GROUP BY TimeReceived, ExporterAddress, ExporterName, InIfIndex, OutIfIndex, InIfName, OutIfName, InIfBoundary, OutIfBoundary, InIfSpeed, OutIfSpeed, FlowDirection, TrafficDirection;

CREATE TABLE IF NOT EXISTS sluice.flows_net_1m_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'start of the 1m0s bucket' CODEC(DoubleDelta, LZ4),
    `SrcNetSite` LowCardinality(String),
    `DstNetSite` LowCardinality(String),
    `SrcNetTenant` LowCardinality(String),
    `DstNetTenant` LowCardinality(String),
    `TrafficDirection` Enum8('unknown' = 0, 'inbound' = 1, 'outbound' = 2, 'internal' = 3, 'transit' = 4),
    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'flow records'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_net_1m_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (TimeReceived, SrcNetSite, DstNetSite, SrcNetTenant, DstNetTenant, TrafficDirection)
TTL TimeReceived + toIntervalSecond(604800)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice flows aggregated per 1m0s';

CREATE TABLE IF NOT EXISTS sluice.flows_net_1m ON CLUSTER `sluice_cluster` AS sluice.flows_net_1m_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_net_1m_local, cityHash64(SrcNetSite));

INSERT INTO sluice.flows_net_1m SETTINGS async_insert = 0 SELECT * FROM (SELECT toStartOfMinute(TimeReceived) AS TimeReceived, SrcNetSite, DstNetSite, SrcNetTenant, DstNetTenant, TrafficDirection, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows GROUP BY TimeReceived, SrcNetSite, DstNetSite, SrcNetTenant, DstNetTenant, TrafficDirection) WHERE (SELECT count() FROM sluice.flows_net_1m) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_net_1m_mv ON CLUSTER `sluice_cluster` TO sluice.flows_net_1m_local AS SELECT toStartOfMinute(TimeReceived) AS TimeReceived, SrcNetSite, DstNetSite, SrcNetTenant, DstNetTenant, TrafficDirection, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows_local GROUP BY TimeReceived, SrcNetSite, DstNetSite, SrcNetTenant, DstNetTenant, TrafficDirection;

CREATE TABLE IF NOT EXISTS sluice.flows_net_5m_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'start of the 5m0s bucket' CODEC(DoubleDelta, LZ4),
    `SrcNetSite` LowCardinality(String),
    `DstNetSite` LowCardinality(String),
    `SrcNetTenant` LowCardinality(String),
    `DstNetTenant` LowCardinality(String),
    `TrafficDirection` Enum8('unknown' = 0, 'inbound' = 1, 'outbound' = 2, 'internal' = 3, 'transit' = 4),
    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'flow records'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_net_5m_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (TimeReceived, SrcNetSite, DstNetSite, SrcNetTenant, DstNetTenant, TrafficDirection)
TTL TimeReceived + toIntervalSecond(7776000)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice flows aggregated per 5m0s';

CREATE TABLE IF NOT EXISTS sluice.flows_net_5m ON CLUSTER `sluice_cluster` AS sluice.flows_net_5m_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_net_5m_local, cityHash64(SrcNetSite));

INSERT INTO sluice.flows_net_5m SETTINGS async_insert = 0 SELECT * FROM (SELECT toStartOfFiveMinutes(TimeReceived) AS TimeReceived, SrcNetSite, DstNetSite, SrcNetTenant, DstNetTenant, TrafficDirection, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows GROUP BY TimeReceived, SrcNetSite, DstNetSite, SrcNetTenant, DstNetTenant, TrafficDirection) WHERE (SELECT count() FROM sluice.flows_net_5m) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_net_5m_mv ON CLUSTER `sluice_cluster` TO sluice.flows_net_5m_local AS SELECT toStartOfFiveMinutes(TimeReceived) AS TimeReceived, SrcNetSite, DstNetSite, SrcNetTenant, DstNetTenant, TrafficDirection, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows_local GROUP BY TimeReceived, SrcNetSite, DstNetSite, SrcNetTenant, DstNetTenant, TrafficDirection;

CREATE TABLE IF NOT EXISTS sluice.flows_net_1h_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'start of the 1h0m0s bucket' CODEC(DoubleDelta, LZ4),
    `SrcNetSite` LowCardinality(String),
    `DstNetSite` LowCardinality(String),
    `SrcNetTenant` LowCardinality(String),
    `DstNetTenant` LowCardinality(String),
    `TrafficDirection` Enum8('unknown' = 0, 'inbound' = 1, 'outbound' = 2, 'internal' = 3, 'transit' = 4),
    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'flow records'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_net_1h_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMM(TimeReceived)
ORDER BY (TimeReceived, SrcNetSite, DstNetSite, SrcNetTenant, DstNetTenant, TrafficDirection)
TTL TimeReceived + toIntervalSecond(31536000)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice flows aggregated per 1h0m0s';

CREATE TABLE IF NOT EXISTS sluice.flows_net_1h ON CLUSTER `sluice_cluster` AS sluice.flows_net_1h_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_net_1h_local, cityHash64(SrcNetSite));

INSERT INTO sluice.flows_net_1h SETTINGS async_insert = 0 SELECT * FROM (SELECT toStartOfHour(TimeReceived) AS TimeReceived, SrcNetSite, DstNetSite, SrcNetTenant, DstNetTenant, TrafficDirection, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows GROUP BY TimeReceived, SrcNetSite, DstNetSite, SrcNetTenant, DstNetTenant, TrafficDirection) WHERE (SELECT count() FROM sluice.flows_net_1h) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_net_1h_mv ON CLUSTER `sluice_cluster` TO sluice.flows_net_1h_local AS SELECT toStartOfHour(TimeReceived) AS TimeReceived, SrcNetSite, DstNetSite, SrcNetTenant, DstNetTenant, TrafficDirection, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows FROM sluice.flows_local GROUP BY TimeReceived, SrcNetSite, DstNetSite, SrcNetTenant, DstNetTenant, TrafficDirection;

CREATE TABLE IF NOT EXISTS sluice.exporters_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'last seen' CODEC(DoubleDelta, LZ4),
    `ExporterAddress` IPv6,
    `ExporterName` LowCardinality(String),
    `ExporterGroup` LowCardinality(String),
    `ExporterRole` LowCardinality(String),
    `ExporterSite` LowCardinality(String),
    `ExporterRegion` LowCardinality(String),
    `ExporterTenant` LowCardinality(String),
    `IfIndex` UInt32,
    `IfName` LowCardinality(String),
    `IfDescription` LowCardinality(String),
    `IfSpeed` UInt64,
    `IfBoundary` Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
    `IfProvider` LowCardinality(String),
    `IfConnectivity` LowCardinality(String)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/sluice/exporters_local', '{replica}', TimeReceived)
ORDER BY (ExporterAddress, IfIndex)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice exporters and their interfaces, as last seen in the flows';

CREATE TABLE IF NOT EXISTS sluice.exporters ON CLUSTER `sluice_cluster` AS sluice.exporters_local ENGINE = Distributed(`sluice_cluster`, sluice, exporters_local, cityHash64(ExporterAddress));

INSERT INTO sluice.exporters SETTINGS async_insert = 0 SELECT * FROM (SELECT max(TimeReceived) AS TimeReceived, ExporterAddress, ExporterName, ExporterGroup, ExporterRole, ExporterSite, ExporterRegion, ExporterTenant, InIfIndex AS IfIndex, InIfName AS IfName, InIfDescription AS IfDescription, InIfSpeed AS IfSpeed, InIfBoundary AS IfBoundary, InIfProvider AS IfProvider, InIfConnectivity AS IfConnectivity FROM sluice.flows GROUP BY ExporterAddress, ExporterName, ExporterGroup, ExporterRole, ExporterSite, ExporterRegion, ExporterTenant, IfIndex, IfName, IfDescription, IfSpeed, IfBoundary, IfProvider, IfConnectivity UNION ALL SELECT max(TimeReceived) AS TimeReceived, ExporterAddress, ExporterName, ExporterGroup, ExporterRole, ExporterSite, ExporterRegion, ExporterTenant, OutIfIndex AS IfIndex, OutIfName AS IfName, OutIfDescription AS IfDescription, OutIfSpeed AS IfSpeed, OutIfBoundary AS IfBoundary, OutIfProvider AS IfProvider, OutIfConnectivity AS IfConnectivity FROM sluice.flows GROUP BY ExporterAddress, ExporterName, ExporterGroup, ExporterRole, ExporterSite, ExporterRegion, ExporterTenant, IfIndex, IfName, IfDescription, IfSpeed, IfBoundary, IfProvider, IfConnectivity) WHERE (SELECT count() FROM sluice.exporters) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.exporters_in_mv ON CLUSTER `sluice_cluster` TO sluice.exporters_local AS SELECT max(TimeReceived) AS TimeReceived, ExporterAddress, ExporterName, ExporterGroup, ExporterRole, ExporterSite, ExporterRegion, ExporterTenant, InIfIndex AS IfIndex, InIfName AS IfName, InIfDescription AS IfDescription, InIfSpeed AS IfSpeed, InIfBoundary AS IfBoundary, InIfProvider AS IfProvider, InIfConnectivity AS IfConnectivity FROM sluice.flows_local GROUP BY ExporterAddress, ExporterName, ExporterGroup, ExporterRole, ExporterSite, ExporterRegion, ExporterTenant, IfIndex, IfName, IfDescription, IfSpeed, IfBoundary, IfProvider, IfConnectivity;

CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.exporters_out_mv ON CLUSTER `sluice_cluster` TO sluice.exporters_local AS SELECT max(TimeReceived) AS TimeReceived, ExporterAddress, ExporterName, ExporterGroup, ExporterRole, ExporterSite, ExporterRegion, ExporterTenant, OutIfIndex AS IfIndex, OutIfName AS IfName, OutIfDescription AS IfDescription, OutIfSpeed AS IfSpeed, OutIfBoundary AS IfBoundary, OutIfProvider AS IfProvider, OutIfConnectivity AS IfConnectivity FROM sluice.flows_local GROUP BY ExporterAddress, ExporterName, ExporterGroup, ExporterRole, ExporterSite, ExporterRegion, ExporterTenant, IfIndex, IfName, IfDescription, IfSpeed, IfBoundary, IfProvider, IfConnectivity;

CREATE TABLE IF NOT EXISTS sluice.alerts_local ON CLUSTER `sluice_cluster`
(
    `Time` DateTime COMMENT 'when the detection last raised the alert' CODEC(DoubleDelta, LZ4),
    `Detection` LowCardinality(String) COMMENT 'detection (rule) name',
    `Severity` Enum8('info' = 1, 'low' = 2, 'medium' = 3, 'high' = 4, 'critical' = 5) COMMENT 'severity',
    `ExporterAddress` IPv6 COMMENT 'exporter of the flows the alert is about (IPv4 mapped; :: for several)',
    `SrcAddr` IPv6 COMMENT 'source address (:: when not one)',
    `DstAddr` IPv6 COMMENT 'destination address (:: when not one)',
    `SrcPort` UInt16 COMMENT 'source port (0 when not one)',
    `DstPort` UInt16 COMMENT 'destination port (0 when not one)',
    `Proto` UInt8 COMMENT 'IP protocol (0 when not one)',
    `Bytes` UInt64 COMMENT 'evidence: bytes, scaled by the sampling rate',
    `Packets` UInt64 COMMENT 'evidence: packets, scaled by the sampling rate',
    `Flows` UInt64 COMMENT 'evidence: flow records',
    `Details` String COMMENT 'free-form details (JSON by convention)' CODEC(ZSTD(1)),
    `DedupKey` String COMMENT 'the detection\'s key: an alert raised again with the same key replaces the earlier row',
    `AlertID` String COMMENT 'the alert\'s identifier, the same in every update (SIEMs correlate on it)',
    `State` Enum8('open' = 1, 'updated' = 2, 'closed' = 3) COMMENT 'open when raised, updated while the event lasts, closed when it stopped',
    `Summary` String COMMENT 'one human sentence',
    `FirstSeen` DateTime64(3) COMMENT 'first evidence flow\'s start (flow time, not arrival)',
    `LastSeen` DateTime64(3) COMMENT 'last evidence flow\'s end (flow time, not arrival)',
    `ThreatFeeds` Array(LowCardinality(String)) COMMENT 'threat-intelligence feeds involved'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/sluice/alerts_local', '{replica}', Time)
PARTITION BY toYYYYMM(Time)
ORDER BY (Detection, DedupKey)
TTL Time + toIntervalSecond(31536000)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice alerts raised by detections';

CREATE TABLE IF NOT EXISTS sluice.alerts ON CLUSTER `sluice_cluster` AS sluice.alerts_local ENGINE = Distributed(`sluice_cluster`, sluice, alerts_local, cityHash64(ExporterAddress));

CREATE TABLE IF NOT EXISTS sluice.asn_names ON CLUSTER `sluice_cluster` (ASN UInt64, Name String) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/sluice/asn_names', '{replica}') ORDER BY (ASN) COMMENT 'AS numbers and organisation names (CC BY 4.0: RouteViews, DB-IP, NRO)';

CREATE DICTIONARY IF NOT EXISTS sluice.asn_names_dict ON CLUSTER `sluice_cluster` (ASN UInt64, Name String) PRIMARY KEY ASN SOURCE(CLICKHOUSE(DB 'sluice' TABLE 'asn_names')) LAYOUT(HASHED()) LIFETIME(MIN 300 MAX 600);

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-7', async_insert = 0 VALUES (7, 'create AS, interface and network rollups, the exporters and alerts tables, AS names');

CREATE TABLE IF NOT EXISTS sluice.interface_counters_local ON CLUSTER `sluice_cluster`
(
    `TimeReceived` DateTime COMMENT 'when the collector received the sample',
    `ExporterAddress` IPv6 COMMENT 'sFlow agent address',
    `ObservationDomainID` UInt32 COMMENT 'sFlow sub-agent ID',
    `SequenceNumber` UInt32 COMMENT 'counter sample sequence number, per source',
    `SourceIDType` UInt8 COMMENT '0 ifIndex, 1 smonVlanDataSource, 2 entPhysicalEntry',
    `SourceIDIndex` UInt32,
    `HasGeneric` Bool COMMENT 'the generic interface counters were sent',
    `IfIndex` UInt32,
    `IfType` UInt32 COMMENT 'IANA ifType',
    `IfSpeed` UInt64 COMMENT 'bits per second',
    `IfDirection` UInt8 COMMENT '0 unknown, 1 full-duplex, 2 half-duplex, 3 in, 4 out',
    `IfAdminStatus` UInt8 COMMENT '1 up',
    `IfOperStatus` UInt8 COMMENT '1 up',
    `IfPromiscuousMode` UInt32,
    `IfInOctets` UInt64,
    `IfInUcastPkts` UInt64,
    `IfInMulticastPkts` UInt64,
    `IfInBroadcastPkts` UInt64,
    `IfInDiscards` UInt64,
    `IfInErrors` UInt64,
    `IfInUnknownProtos` UInt64,
    `IfOutOctets` UInt64,
    `IfOutUcastPkts` UInt64,
    `IfOutMulticastPkts` UInt64,
    `IfOutBroadcastPkts` UInt64,
    `IfOutDiscards` UInt64,
    `IfOutErrors` UInt64,
    `HasEthernet` Bool COMMENT 'the Ethernet (dot3) counters were sent',
    `Dot3StatsAlignmentErrors` UInt64,
    `Dot3StatsFCSErrors` UInt64,
    `Dot3StatsSingleCollisionFrames` UInt64,
    `Dot3StatsMultipleCollisionFrames` UInt64,
    `Dot3StatsSQETestErrors` UInt64,
    `Dot3StatsDeferredTransmissions` UInt64,
    `Dot3StatsLateCollisions` UInt64,
    `Dot3StatsExcessiveCollisions` UInt64,
    `Dot3StatsInternalMacTransmitErrors` UInt64,
    `Dot3StatsCarrierSenseErrors` UInt64,
    `Dot3StatsFrameTooLongs` UInt64,
    `Dot3StatsInternalMacReceiveErrors` UInt64,
    `Dot3StatsSymbolErrors` UInt64
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/sluice/interface_counters_local', '{replica}')
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (ExporterAddress, IfIndex, TimeReceived)
TTL TimeReceived + toIntervalSecond(7776000)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'sluice sFlow interface counter samples, one row per sample';

CREATE TABLE IF NOT EXISTS sluice.interface_counters ON CLUSTER `sluice_cluster` AS sluice.interface_counters_local ENGINE = Distributed(`sluice_cluster`, sluice, interface_counters_local, cityHash64(ExporterAddress));

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-8', async_insert = 0 VALUES (8, 'create interface_counters table (sFlow counter samples)');

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `FirewallEvent` UInt8 COMMENT 'firewall event (IPFIX IE 233, NSEL 40005): 1 created, 2 deleted, 3 denied, 4 alert, 5 update; 0 none';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `FirewallExtEvent` UInt16 COMMENT 'NSEL extended event code (IE 33002), e.g. why a flow was denied or torn down';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `IngressACL` UInt32 COMMENT 'NSEL ingress ACL (hash or ID of its name), from IE 33000';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `IngressACE` UInt32 COMMENT 'NSEL ingress ACE within the ACL (hash, ID or line), from IE 33000';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `IngressACEExt` UInt32 COMMENT 'NSEL ingress extended ACE configuration (hash or ID), from IE 33000';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `EgressACL` UInt32 COMMENT 'NSEL egress ACL (hash or ID of its name), from IE 33001';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `EgressACE` UInt32 COMMENT 'NSEL egress ACE within the ACL (hash, ID or line), from IE 33001';

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `EgressACEExt` UInt32 COMMENT 'NSEL egress extended ACE configuration (hash or ID), from IE 33001';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `FirewallEvent` UInt8 COMMENT 'firewall event (IPFIX IE 233, NSEL 40005): 1 created, 2 deleted, 3 denied, 4 alert, 5 update; 0 none';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `FirewallExtEvent` UInt16 COMMENT 'NSEL extended event code (IE 33002), e.g. why a flow was denied or torn down';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `IngressACL` UInt32 COMMENT 'NSEL ingress ACL (hash or ID of its name), from IE 33000';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `IngressACE` UInt32 COMMENT 'NSEL ingress ACE within the ACL (hash, ID or line), from IE 33000';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `IngressACEExt` UInt32 COMMENT 'NSEL ingress extended ACE configuration (hash or ID), from IE 33000';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `EgressACL` UInt32 COMMENT 'NSEL egress ACL (hash or ID of its name), from IE 33001';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `EgressACE` UInt32 COMMENT 'NSEL egress ACE within the ACL (hash, ID or line), from IE 33001';

ALTER TABLE sluice.flows ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `EgressACEExt` UInt32 COMMENT 'NSEL egress extended ACE configuration (hash or ID), from IE 33001';

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-9', async_insert = 0 VALUES (9, 'add firewall event columns (Cisco ASA NSEL): event, extended event, ingress and egress ACL');

ALTER TABLE sluice.alerts_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `AlertID` String COMMENT 'the alert\'s identifier, the same in every update (SIEMs correlate on it)';

ALTER TABLE sluice.alerts_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `State` Enum8('open' = 1, 'updated' = 2, 'closed' = 3) COMMENT 'open when raised, updated while the event lasts, closed when it stopped';

ALTER TABLE sluice.alerts_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `Summary` String COMMENT 'one human sentence';

ALTER TABLE sluice.alerts_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `FirstSeen` DateTime64(3) COMMENT 'first evidence flow\'s start (flow time, not arrival)';

ALTER TABLE sluice.alerts_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `LastSeen` DateTime64(3) COMMENT 'last evidence flow\'s end (flow time, not arrival)';

ALTER TABLE sluice.alerts_local ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ThreatFeeds` Array(LowCardinality(String)) COMMENT 'threat-intelligence feeds involved';

ALTER TABLE sluice.alerts ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `AlertID` String COMMENT 'the alert\'s identifier, the same in every update (SIEMs correlate on it)';

ALTER TABLE sluice.alerts ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `State` Enum8('open' = 1, 'updated' = 2, 'closed' = 3) COMMENT 'open when raised, updated while the event lasts, closed when it stopped';

ALTER TABLE sluice.alerts ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `Summary` String COMMENT 'one human sentence';

ALTER TABLE sluice.alerts ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `FirstSeen` DateTime64(3) COMMENT 'first evidence flow\'s start (flow time, not arrival)';

ALTER TABLE sluice.alerts ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `LastSeen` DateTime64(3) COMMENT 'last evidence flow\'s end (flow time, not arrival)';

ALTER TABLE sluice.alerts ON CLUSTER `sluice_cluster` ADD COLUMN IF NOT EXISTS `ThreatFeeds` Array(LowCardinality(String)) COMMENT 'threat-intelligence feeds involved';

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-10', async_insert = 0 VALUES (10, 'add the alert life columns: alert ID, state, summary, first and last seen, threat feeds');

DROP VIEW IF EXISTS sluice.exporters_in_mv ON CLUSTER `sluice_cluster`;

DROP VIEW IF EXISTS sluice.exporters_out_mv ON CLUSTER `sluice_cluster`;

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-11', async_insert = 0 VALUES (11, 'fill the exporters table from the writer: drop its views');

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` MODIFY SETTING min_rows_for_wide_part = 100000, min_bytes_for_wide_part = 0;

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-12', async_insert = 0 VALUES (12, 'write the flows table\'s insert-sized parts compact');

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` MODIFY COLUMN `TimeReceived` CODEC(LZ4);

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` MODIFY COLUMN `TimeFlowStart` CODEC(LZ4);

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` MODIFY COLUMN `TimeFlowEnd` CODEC(LZ4);

INSERT INTO sluice.schema_migrations (version, description) SETTINGS insert_deduplication_token = 'sluice-schema-version-13', async_insert = 0 VALUES (13, 'store the flows table\'s times with plain LZ4');

ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(1296000) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.flows_as_1m_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(604800) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.flows_as_5m_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(7776000) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.flows_as_1h_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(31536000) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.flows_net_1m_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(604800) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.flows_net_5m_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(7776000) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.flows_net_1h_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(31536000) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.flows_if_1m_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(604800) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.flows_if_5m_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(7776000) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.flows_if_1h_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(31536000) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.flows_1m_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(604800) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.flows_5m_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(7776000) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.flows_1h_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(31536000) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.alerts_local ON CLUSTER `sluice_cluster` MODIFY TTL Time + toIntervalSecond(31536000) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sluice.interface_counters_local ON CLUSTER `sluice_cluster` MODIFY TTL TimeReceived + toIntervalSecond(7776000) SETTINGS materialize_ttl_after_modify = 0;

TRUNCATE TABLE sluice.protocols ON CLUSTER `sluice_cluster`;

INSERT INTO sluice.protocols SETTINGS async_insert = 0 VALUES ...;

SYSTEM RELOAD DICTIONARY ON CLUSTER `sluice_cluster` sluice.protocols_dict;

TRUNCATE TABLE sluice.services ON CLUSTER `sluice_cluster`;

INSERT INTO sluice.services SETTINGS async_insert = 0 VALUES ...;

SYSTEM RELOAD DICTIONARY ON CLUSTER `sluice_cluster` sluice.services_dict;

TRUNCATE TABLE sluice.icmp_types ON CLUSTER `sluice_cluster`;

INSERT INTO sluice.icmp_types SETTINGS async_insert = 0 VALUES ...;

SYSTEM RELOAD DICTIONARY ON CLUSTER `sluice_cluster` sluice.icmp_types_dict;

TRUNCATE TABLE sluice.asn_names ON CLUSTER `sluice_cluster`;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

INSERT INTO sluice.asn_names SETTINGS async_insert = 0 VALUES ...;

SYSTEM RELOAD DICTIONARY ON CLUSTER `sluice_cluster` sluice.asn_names_dict;

