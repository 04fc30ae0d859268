// SluiceJDBC reads sluice's ClickHouse HTTP interface with ClickHouse's JDBC
// driver (com.clickhouse:jdbc-v2, as DBeaver uses it). The test
// TestClickHouseClientsJDBC (cmd/sluice) runs it, built by
// `deploy/dev/deps.sh jdbc`, against `sluice run` fed by `sluice demo`:
//
//     java -cp DIR:DIR/lib/* SluiceJDBC JDBC-URL SQL
//
// It connects as the read-only user `default`, prints what DBeaver reads on
// connect (the server's version, and the table flows as the driver's
// metadata lists it), then runs SQL and prints its column names and rows as
// tab-separated lines, each value as the driver's getString gives it.
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.Driver;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public class SluiceJDBC {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: SluiceJDBC JDBC-URL SQL");
            System.exit(2);
        }
        // As DBeaver does: the driver class its settings name, instantiated
        // and asked to connect (jdbc-v2 0.10.0 does not register itself with
        // DriverManager when loaded).
        Driver driver = (Driver) Class.forName("com.clickhouse.jdbc.Driver").getDeclaredConstructor().newInstance();
        Properties props = new Properties();
        props.setProperty("user", "default");
        props.setProperty("password", "");
        try (Connection conn = driver.connect(args[0], props)) {
            DatabaseMetaData meta = conn.getMetaData();
            System.out.println("version\t" + meta.getDatabaseProductVersion());
            try (ResultSet tables = meta.getTables(null, "sluice", "flows", null)) {
                while (tables.next()) {
                    System.out.println("table\t" + tables.getString("TABLE_SCHEM") + "." + tables.getString("TABLE_NAME"));
                }
            }
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(args[1])) {
                ResultSetMetaData md = rs.getMetaData();
                List<String> cols = new ArrayList<>();
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    cols.add(md.getColumnLabel(i));
                }
                System.out.println("columns\t" + String.join("\t", cols));
                while (rs.next()) {
                    List<String> row = new ArrayList<>();
                    for (int i = 1; i <= md.getColumnCount(); i++) {
                        row.add(rs.getString(i));
                    }
                    System.out.println("row\t" + String.join("\t", row));
                }
            }
        }
    }
}
