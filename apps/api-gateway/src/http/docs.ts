import express, { type Express } from 'express';
import getSwaggerUiPath from 'swagger-ui-dist/absolute-path';
import { routeLabel } from './observe';

/** Swagger UI's assets change only with the package version; browsers may keep them a day. */
export const DOCS_ASSET_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/**
 * The page and its initializer are ours rather than the package's: the stock initializer points
 * at the petstore, and an inline script would need a weaker Content-Security-Policy. Assets are
 * referenced by absolute path so the page works at both /docs and /docs/.
 */
function indexHtml(mountPath: string): string {
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Bank API v1</title>
    <link rel="stylesheet" type="text/css" href="${mountPath}/swagger-ui.css">
    <link rel="icon" type="image/png" href="${mountPath}/favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${mountPath}/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="${mountPath}/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
`;
}

function initializerJs(specUrl: string): string {
  // validatorUrl null: the default sends the whole spec to validator.swagger.io.
  return `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: ${JSON.stringify(specUrl)},
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    validatorUrl: null,
  });
});
`;
}

/**
 * Swagger UI at `docsPath`, served from swagger-ui-dist in node_modules (no CDN). The page is a
 * route like any other; its assets are files under it, which no document needs to list.
 */
export function docsRoutes(app: Express, docsPath: string, specUrl: string): void {
  const html = indexHtml(docsPath);
  const js = initializerJs(specUrl);
  app.get(docsPath, (_req, res) => {
    res.type('html').send(html);
  });
  const assets = express.Router({ caseSensitive: false, mergeParams: false, strict: false });
  assets.use(routeLabel(`${docsPath}/*`));
  assets.get('/swagger-initializer.js', (_req, res) => {
    res.type('application/javascript').send(js);
  });
  assets.use(
    express.static(getSwaggerUiPath(), {
      index: false,
      redirect: false,
      fallthrough: true,
      dotfiles: 'ignore',
      etag: true,
      lastModified: true,
      maxAge: DOCS_ASSET_MAX_AGE_MS,
    }),
  );
  app.use(docsPath, assets);
}
