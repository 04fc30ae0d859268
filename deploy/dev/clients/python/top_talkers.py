"""Top talkers from sluice's ClickHouse HTTP interface, read with clickhouse-connect.

The test TestClickHouseClientsPython (cmd/sluice) runs this in the
virtualenv `deploy/dev/deps.sh python` makes, against `sluice run` fed by
`sluice demo`, and compares what it prints with `sluice query top-sources`.

    top_talkers.py HOST PORT [LIMIT]

It connects as the read-only user `default` to database `sluice`, runs the
same top-sources aggregation twice, with client.query and client.query_df,
the limit bound by the server as a query parameter, and prints each result
as tab-separated lines: the method, then SrcAddr, Bytes, Packets, Flows.
SrcAddr is printed as ClickHouse prints an IPv6 column (an IPv4 address as
::ffff:a.b.c.d), so the lines compare with sluice's own TSV.
"""

import ipaddress
import sys

import clickhouse_connect

QUERY = (
    "SELECT SrcAddr, sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, "
    "count() AS Flows FROM flows GROUP BY SrcAddr ORDER BY Bytes DESC, SrcAddr LIMIT {limit:UInt32}"
)


def address(value):
    """ClickHouse's text form of an IPv6 column value."""
    ip = ipaddress.ip_address(value)
    if ip.version == 4:
        return "::ffff:" + str(ip)
    if ip.ipv4_mapped is not None:
        return "::ffff:" + str(ip.ipv4_mapped)
    return str(ip)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    client = clickhouse_connect.get_client(
        host=host, port=port, username="default", password="", database="sluice",
        connect_timeout=10, send_receive_timeout=60)
    print("version\t" + client.server_version)
    result = client.query(QUERY, parameters={"limit": limit})
    if list(result.column_names) != ["SrcAddr", "Bytes", "Packets", "Flows"]:
        sys.exit("query: columns %s" % (result.column_names,))
    for addr, nbytes, packets, flows in result.result_rows:
        print("query\t%s\t%d\t%d\t%d" % (address(addr), nbytes, packets, flows))
    df = client.query_df(QUERY, parameters={"limit": limit})
    for row in df.itertuples(index=False):
        print("query_df\t%s\t%d\t%d\t%d" % (address(row.SrcAddr), row.Bytes, row.Packets, row.Flows))
    client.close()


if __name__ == "__main__":
    main()
