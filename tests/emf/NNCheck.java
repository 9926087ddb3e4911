// Eclipse EMF conformance checker for the nnpivot metamodel and its XMI files.
//
// Usage: java NNCheck nn.ecore manifest.txt
//   manifest.txt: one "input.xmi<TAB>output.xmi" pair per line.
// Loads the metamodel with EMF's Ecore resource, validates the EPackage with the
// Diagnostician, registers it, then for every pair loads the XMI nnpivot wrote,
// validates the model and saves it back with EMF's own XMI serializer.
// Prints one line per problem ("ERROR <where>: <message>") and one summary line
// per file ("OK <file>"); exits 1 when anything failed. One JVM for all files,
// because the JVM start-up dominates the run time.

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;

import org.eclipse.emf.common.util.Diagnostic;
import org.eclipse.emf.common.util.URI;
import org.eclipse.emf.ecore.EObject;
import org.eclipse.emf.ecore.EPackage;
import org.eclipse.emf.ecore.resource.Resource;
import org.eclipse.emf.ecore.resource.ResourceSet;
import org.eclipse.emf.ecore.resource.impl.ResourceSetImpl;
import org.eclipse.emf.ecore.util.Diagnostician;
import org.eclipse.emf.ecore.util.EcoreUtil;
import org.eclipse.emf.ecore.xmi.impl.EcoreResourceFactoryImpl;
import org.eclipse.emf.ecore.xmi.impl.XMIResourceFactoryImpl;

public final class NNCheck {
    private static int failures = 0;

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: NNCheck nn.ecore manifest.txt");
            System.exit(2);
        }
        EPackage nn = checkMetamodel(args[0]);
        if (nn != null) {
            List<String> pairs = Files.readAllLines(Path.of(args[1]));
            for (String pair : pairs) {
                if (pair.isBlank()) {
                    continue;
                }
                String[] paths = pair.split("\t");
                checkModel(nn, paths[0], paths[1]);
            }
        }
        System.out.flush();
        System.exit(failures == 0 ? 0 : 1);
    }

    private static ResourceSet newResourceSet() {
        ResourceSet resources = new ResourceSetImpl();
        resources.getResourceFactoryRegistry().getExtensionToFactoryMap().put("ecore", new EcoreResourceFactoryImpl());
        resources.getResourceFactoryRegistry().getExtensionToFactoryMap().put("*", new XMIResourceFactoryImpl());
        return resources;
    }

    private static EPackage checkMetamodel(String ecorePath) {
        Resource resource = load(newResourceSet(), ecorePath);
        if (resource == null) {
            return null;
        }
        if (resource.getContents().size() != 1 || !(resource.getContents().get(0) instanceof EPackage)) {
            fail(ecorePath, "the resource does not hold exactly one EPackage");
            return null;
        }
        EPackage nn = (EPackage) resource.getContents().get(0);
        // Unresolved eType/eSuperTypes references would only show up as proxies.
        for (var proxy : EcoreUtil.UnresolvedProxyCrossReferencer.find(resource).keySet()) {
            fail(ecorePath, "unresolved reference in " + EcoreUtil.getURI(proxy));
        }
        if (report(ecorePath, Diagnostician.INSTANCE.validate(nn))) {
            System.out.println("OK " + ecorePath);
        }
        return nn;
    }

    private static void checkModel(EPackage nn, String inputPath, String outputPath) {
        ResourceSet resources = newResourceSet();
        resources.getPackageRegistry().put(nn.getNsURI(), nn);
        Resource resource = load(resources, inputPath);
        if (resource == null) {
            return;
        }
        boolean ok = true;
        if (resource.getContents().isEmpty()) {
            fail(inputPath, "no root object");
            return;
        }
        for (EObject root : resource.getContents()) {
            if (root.eClass().getEPackage() != nn) {
                ok = fail(inputPath, "root " + root.eClass().getName() + " is not from the nn package");
            }
            for (var proxy : EcoreUtil.UnresolvedProxyCrossReferencer.find(resource).keySet()) {
                ok = fail(inputPath, "unresolved reference in " + EcoreUtil.getURI(proxy));
            }
            ok &= report(inputPath, Diagnostician.INSTANCE.validate(root));
        }
        resource.setURI(URI.createFileURI(Path.of(outputPath).toAbsolutePath().toString()));
        try {
            resource.save(Collections.emptyMap());
        } catch (IOException e) {
            ok = fail(inputPath, "EMF could not save " + outputPath + ": " + e.getMessage());
        }
        if (ok) {
            System.out.println("OK " + inputPath);
        }
    }

    private static Resource load(ResourceSet resources, String path) {
        URI uri = URI.createFileURI(Path.of(path).toAbsolutePath().toString());
        try {
            Resource resource = resources.getResource(uri, true);
            for (Resource.Diagnostic warning : resource.getWarnings()) {
                fail(path, "load warning: " + warning.getMessage());
            }
            return resource;
        } catch (RuntimeException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            fail(path, "EMF could not load it: " + cause.getMessage());
            return null;
        }
    }

    /** Prints every WARNING or ERROR of a Diagnostician result; true when there was none. */
    private static boolean report(String path, Diagnostic diagnostic) {
        if (diagnostic.getSeverity() < Diagnostic.WARNING) {
            return true;
        }
        if (diagnostic.getChildren().isEmpty()) {
            String severity = diagnostic.getSeverity() >= Diagnostic.ERROR ? "ERROR" : "WARNING";
            fail(path, severity + " " + diagnostic.getMessage());
        }
        for (Diagnostic child : diagnostic.getChildren()) {
            report(path, child);
        }
        return false;
    }

    private static boolean fail(String path, String message) {
        failures++;
        System.out.println("FAIL " + path + ": " + message);
        return false;
    }

    private NNCheck() {
    }
}
