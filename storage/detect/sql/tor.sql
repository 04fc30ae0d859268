-- Tor: traffic with a Tor relay or exit, as the threat feed of that name
-- lists them (enrich.threat.feeds, format tor-exits). One alert per relay
-- and the host it talked with, both directions together.
SELECT WindowEnd,
    concat(toString(Other), ' <> ', toString(Relay)) AS Key,
    toString(Other) AS Src, toString(Relay) AS Dst, 0 AS SrcPt, 0 AS DstPt, 0 AS Prot,
    sum(SBytes) AS SumBytes, sum(SPackets) AS SumPackets, sum(SFlows) AS SumFlows,
    toUnixTimestamp64Milli(min(TimeFlowStart)) AS First, toUnixTimestamp64Milli(max(TimeFlowEnd)) AS Last,
    [{tor_feed}] AS Feeds
FROM (
    SELECT *,
        if(has(DstThreatFeeds, {tor_feed}), DstAddr, SrcAddr) AS Relay,
        if(has(DstThreatFeeds, {tor_feed}), SrcAddr, DstAddr) AS Other
    FROM {flows}
    WHERE has(DstThreatFeeds, {tor_feed}) OR has(SrcThreatFeeds, {tor_feed})
)
GROUP BY WindowEnd, Relay, Other
HAVING count() >= {min_flows}
