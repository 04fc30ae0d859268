-- Tor: traffic with a Tor relay or exit, as the threat feed of that name
-- lists them (enrich.threat.feeds, format tor-exits). One alert per host
-- talking with relays, both directions together, with the relays counted
-- (Relays; Dst is one of them): a Tor client reaches many relays.
SELECT WindowEnd,
    toString(Other) AS Key,
    toString(Other) AS Src, toString(any(Relay)) AS Dst, 0 AS SrcPt, 0 AS DstPt, 0 AS Prot,
    sum(SBytes) AS SumBytes, sum(SPackets) AS SumPackets, sum(SFlows) AS SumFlows,
    toUnixTimestamp64Milli(min(TimeFlowStart)) AS First, toUnixTimestamp64Milli(max(TimeFlowEnd)) AS Last,
    [{tor_feed}] AS Feeds, uniqExact(Relay) AS Relays
FROM (
    SELECT *,
        if(has(DstThreatFeeds, {tor_feed}), DstAddr, SrcAddr) AS Relay,
        if(has(DstThreatFeeds, {tor_feed}), SrcAddr, DstAddr) AS Other
    FROM {flows}
    WHERE has(DstThreatFeeds, {tor_feed}) OR has(SrcThreatFeeds, {tor_feed})
)
GROUP BY WindowEnd, Other
HAVING count() >= {min_flows}
