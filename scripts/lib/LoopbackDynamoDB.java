/*
 * DynamoDB Local's own entry point (ServerRunner), bound to 127.0.0.1 instead of every interface: the jar has
 * no option for the address, so this sets it on the Jetty connector before the server starts. Java runs the
 * file from source (java LoopbackDynamoDB.java ...), so there is nothing to compile or commit but this. It
 * takes DynamoDB Local's own command line (-port, -inMemory, -dbPath, -sharedDb).
 */
import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public class LoopbackDynamoDB {
  public static void main(String[] args) throws Exception {
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    // The server is private; DynamoDBProxyServer 1.25 builds it with `new Server(port)`, on every interface.
    java.lang.reflect.Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    for (Connector connector : server.getConnectors()) ((ServerConnector) connector).setHost("127.0.0.1");
    proxy.start();
  }
}
