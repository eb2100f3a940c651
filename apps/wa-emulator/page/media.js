// Placeholder: the media send path and incoming media download (engineer B replaces this file).
