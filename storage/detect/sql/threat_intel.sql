-- Threat intelligence: traffic to or from an address a threat feed lists
-- (enrich.threat.feeds), except the Tor feed, which has its own detection.
-- One alert per listed address and the host it talked with, both
-- directions together.
SELECT WindowEnd,
    concat(toString(Other), ' <> ', toString(Listed)) AS Key,
    toString(Other) AS Src, toString(Listed) AS Dst, 0 AS SrcPt, 0 AS DstPt, 0 AS Prot,
    sum(SBytes) AS SumBytes, sum(SPackets) AS SumPackets, sum(SFlows) AS SumFlows,
    toUnixTimestamp64Milli(min(TimeFlowStart)) AS First, toUnixTimestamp64Milli(max(TimeFlowEnd)) AS Last,
    arraySort(groupUniqArrayArray(ListedFeeds)) AS Feeds
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
GROUP BY WindowEnd, Listed, Other
HAVING count() >= {min_flows}
