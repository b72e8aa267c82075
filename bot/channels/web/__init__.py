"""The web chat (channel ``web``): a chat box a shop embeds with one ``<script>`` tag, and a
``/chat`` page, served on the console's server. Visitors are known by a signed cookie; what
they write goes to the one dialogue engine, and what Kefu (or an agent) writes reaches them
over a server-sent-events stream from the outbox. :func:`bot.channels.web.routes.chat_routes`
is the hook the console's server mounts."""
