// kubevents test environment: Elasticsearch 9's plugins service for plugins on the classpath.
//
// The 8.x launcher's service (../../../es8) in the shape of 9.x's API: plugin layers come from a
// PluginsLoader, which this service gives no bundles, and a loaded plugin no longer names a
// module layer. The Maven Central jars have no plugin descriptors, so the classes on the
// classpath are handed over directly.
package org.elasticsearch.plugins;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.elasticsearch.Build;
import org.elasticsearch.action.admin.cluster.node.info.PluginsAndModules;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;

public class ClasspathPluginsService extends PluginsService {
    private final List<LoadedPlugin> classpathPlugins;

    public ClasspathPluginsService(
            Settings settings, Environment env, Collection<Class<? extends Plugin>> classes) {
        super(settings, env.configDir(), emptyLoader());
        List<LoadedPlugin> loaded = new ArrayList<>();
        for (Class<? extends Plugin> type : classes) {
            Plugin plugin = loadPlugin(type, settings, env.configDir());
            PluginDescriptor descriptor = new PluginDescriptor(
                type.getName(), "on the classpath", "NA", Build.current().version(),
                Integer.toString(Runtime.version().feature()), type.getName(), null, List.of(),
                false, false, false, false);
            loaded.add(new LoadedPlugin(descriptor, plugin, type.getClassLoader()));
        }
        loadExtensions(loaded);
        classpathPlugins = List.copyOf(loaded);
    }

    public static PluginsLoader emptyLoader() {
        return PluginsLoader.createPluginsLoader(Set.of(), Set.of(), Map.of(), false);
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
