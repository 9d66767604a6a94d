// kubevents test environment: Elasticsearch's plugins service for plugins on the classpath.
//
// Elasticsearch loads modules from a distribution's modules/ directory, each with a plugin
// descriptor; the Maven Central jars have no descriptors. This service hands the node plugin
// classes that are on the classpath instead (the way Elasticsearch's own test framework does,
// without its randomized-testing runtime, which refuses to run outside a test runner).
package org.elasticsearch.plugins;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.elasticsearch.Build;
import org.elasticsearch.action.admin.cluster.node.info.PluginsAndModules;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.jdk.ModuleQualifiedExportsService;

public class ClasspathPluginsService extends PluginsService {
    private final List<LoadedPlugin> classpathPlugins;

    public ClasspathPluginsService(
            Settings settings, Environment env, Collection<Class<? extends Plugin>> classes) {
        super(settings, env.configFile(), env.modulesFile(), env.pluginsFile());
        List<LoadedPlugin> loaded = new ArrayList<>();
        for (Class<? extends Plugin> type : classes) {
            Plugin plugin = loadPlugin(type, settings, env.configFile());
            PluginDescriptor descriptor = new PluginDescriptor(
                type.getName(), "on the classpath", "NA", Build.current().version(),
                Integer.toString(Runtime.version().feature()), type.getName(), null, List.of(),
                false, false, false, false);
            loaded.add(new LoadedPlugin(descriptor, plugin, type.getClassLoader(), ModuleLayer.boot()));
        }
        loadExtensions(loaded);
        classpathPlugins = List.copyOf(loaded);
    }

    @Override
    protected void addServerExportsService(Map<String, List<ModuleQualifiedExportsService>> exports) {
        // On a plain classpath the server is not a named module: there is nothing to export.
    }

    @Override
    protected List<LoadedPlugin> plugins() {
        return classpathPlugins;
    }

    @Override
    public PluginsAndModules info() {
        return new PluginsAndModules(List.of(), List.of());
    }
}
