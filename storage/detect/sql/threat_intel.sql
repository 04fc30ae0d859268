-- Threat intelligence: traffic to or from an address a threat feed lists
-- (enrich.threat.feeds), except the Tor feed, which has its own detection.
-- One alert per listed address, both directions together, with the hosts
-- it talked with counted (Peers; Src is one of them): a listed scanner
-- reaching a thousand hosts is one alert, not a thousand.
SELECT WindowEnd,
    toString(Listed) AS Key,
    toString(any(Other)) AS Src, toString(Listed) AS Dst, 0 AS SrcPt, 0 AS DstPt, 0 AS Prot,
    sum(SBytes) AS SumBytes, sum(SPackets) AS SumPackets, sum(SFlows) AS SumFlows,
    toUnixTimestamp64Milli(min(TimeFlowStart)) AS First, toUnixTimestamp64Milli(max(TimeFlowEnd)) AS Last,
    arraySort(groupUniqArrayArray(ListedFeeds)) AS Feeds, uniqExact(Other) AS Peers
FROM (
    SELECT *,
        arrayFilter(f -> f != {tor_feed}, DstThreatFeeds) AS DstListed,
        arrayFilter(f -> f != {tor_feed}, SrcThreatFeeds) AS SrcListed,
        if(notEmpty(DstListed), DstAddr, SrcAddr) AS Listed,
        if(notEmpty(DstListed), SrcAddr, DstAddr) AS Other,
        if(notEmpty(DstListed), DstListed, SrcListed) AS ListedFeeds
    FROM {flows}
    WHERE notEmpty(SrcThreatFeeds) OR notEmpty(DstThreatFeeds)
)
WHERE notEmpty(ListedFeeds)
GROUP BY WindowEnd, Listed
HAVING count() >= {min_flows}
